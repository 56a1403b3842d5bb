//! PLACEHOLDER: DomainBuilder.

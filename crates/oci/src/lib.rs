//! OCI spec conversion.

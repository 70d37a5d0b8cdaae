//! Pod, container and process lifecycle on the host.

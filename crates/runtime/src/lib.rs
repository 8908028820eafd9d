//! The gatehouse runtime: pools, health checks, and L4 (TCP/UDP) VIPs over a
//! compiled [`gatehouse_model::Plan`].

//! End-to-end tests of gatehouse-dns over real sockets, with real `dig`,
//! `kdig` and hickory's client, from loopback addresses mapped to zones.

mod apex;
mod common;
mod health;
mod protocol;
mod views;

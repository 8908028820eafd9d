//! Batched UDP I/O for Linux: up to [`BATCH`] queries are read with one
//! `recvmmsg` and their answers sent with one `sendmmsg`, which halves or
//! better the system calls per query under load (NSD does the same). At
//! low load `MSG_WAITFORONE` returns as soon as one datagram is there, so
//! batching adds no latency.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

pub const BATCH: usize = 32;
/// Receive buffer per datagram; longer queries arrive cut (and get FORMERR).
const BUF: usize = 4096;

/// Buffers and message headers for one worker, reused for every batch.
pub struct Batch {
    rx: Box<[[u8; BUF]]>,
    /// One answer buffer per received datagram; empty means "no answer".
    pub tx: Box<[Vec<u8>]>,
    addrs: Box<[libc::sockaddr_storage]>,
    rx_iov: Box<[libc::iovec]>,
    rx_hdr: Box<[libc::mmsghdr]>,
    tx_iov: Box<[libc::iovec]>,
    tx_hdr: Box<[libc::mmsghdr]>,
}

impl Default for Batch {
    fn default() -> Self {
        // SAFETY: these are plain C structs for which all-zero bytes are a
        // valid (empty) value.
        let zero_storage = || unsafe { zeroed::<libc::sockaddr_storage>() };
        let zero_hdr = || unsafe { zeroed::<libc::mmsghdr>() };
        let zero_iov = || libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Batch {
            rx: vec![[0u8; BUF]; BATCH].into(),
            tx: (0..BATCH).map(|_| Vec::with_capacity(BUF)).collect(),
            addrs: (0..BATCH).map(|_| zero_storage()).collect(),
            rx_iov: (0..BATCH).map(|_| zero_iov()).collect(),
            rx_hdr: (0..BATCH).map(|_| zero_hdr()).collect(),
            tx_iov: (0..BATCH).map(|_| zero_iov()).collect(),
            tx_hdr: (0..BATCH).map(|_| zero_hdr()).collect(),
        }
    }
}

impl Batch {
    /// Waits for at least one datagram (or the socket's read timeout) and
    /// returns how many were read.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        for i in 0..BATCH {
            self.rx_iov[i] = libc::iovec {
                iov_base: self.rx[i].as_mut_ptr().cast(),
                iov_len: BUF,
            };
            // SAFETY: all-zero is a valid msghdr; every pointer set below
            // points into boxes owned by `self` that outlive the call.
            let h = &mut self.rx_hdr[i];
            h.msg_hdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut self.rx_iov[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_len = 0;
        }
        // SAFETY: the headers describe BATCH valid, writable buffers.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                self.rx_hdr.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Datagram `i` of the last `recv` and its source (`None` if the
    /// source is not IPv4 or IPv6).
    pub fn datagram(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        let len = (self.rx_hdr[i].msg_len as usize).min(BUF);
        (&self.rx[i][..len], sockaddr(&self.addrs[i]))
    }

    /// Sends every non-empty `tx[i]` (i < `n`) back to the source of
    /// datagram `i`. A destination that fails is skipped.
    pub fn send(&mut self, sock: &UdpSocket, n: usize) {
        let mut k = 0;
        for i in 0..n {
            if self.tx[i].is_empty() {
                continue;
            }
            self.tx_iov[k] = libc::iovec {
                iov_base: self.tx[i].as_mut_ptr().cast(),
                iov_len: self.tx[i].len(),
            };
            let h = &mut self.tx_hdr[k];
            // SAFETY: as in `recv`.
            h.msg_hdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = self.rx_hdr[i].msg_hdr.msg_namelen;
            h.msg_hdr.msg_iov = &mut self.tx_iov[k];
            h.msg_hdr.msg_iovlen = 1;
            k += 1;
        }
        let mut done = 0;
        while done < k {
            // SAFETY: headers `done..k` describe valid buffers and addresses.
            let sent = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    self.tx_hdr[done..].as_mut_ptr(),
                    (k - done) as libc::c_uint,
                    0,
                )
            };
            // On error the first unsent message is the culprit: skip it.
            done += if sent <= 0 { 1 } else { sent as usize };
        }
    }
}

fn sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

//! `/proc/net/packet`: the packet sockets of a network namespace, one line each.
//!
//! ```text
//! sk               RefCnt Type Proto  Iface R Rmem   User   Inode
//! 0000000057b75df2 3      3    0003   3     1 0      0      500316
//! ```
//! `Iface` is the interface index the socket is bound to (0: none) and `R` is 1 once the
//! socket is bound and running, i.e. the kernel hands it the interface's packets.

/// One packet socket of the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketSocket {
    /// The interface it is bound to (0 when it is not bound to one).
    pub ifindex: u32,
    /// Whether it is bound and receives packets.
    pub running: bool,
    pub inode: u64,
}

/// The sockets listed in the file's text; None when its header is not the one described above.
pub(crate) fn parse_packet(text: &str) -> Option<Vec<PacketSocket>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (iface, running, inode) = (col("Iface")?, col("R")?, col("Inode")?);
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        out.push(PacketSocket {
            ifindex: f.get(iface)?.parse().ok()?,
            running: *f.get(running)? == "1",
            inode: f.get(inode)?.parse().ok()?,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_with_their_interface_and_state() {
        let text = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n\
                    0000000057b75df2 3      3    0003   3     1 0      0      500316\n\
                    00000000a1b2c3d4 3      3    0003   0     0 0      0      500317\n";
        assert_eq!(
            parse_packet(text),
            Some(vec![
                PacketSocket {
                    ifindex: 3,
                    running: true,
                    inode: 500316
                },
                PacketSocket {
                    ifindex: 0,
                    running: false,
                    inode: 500317
                },
            ])
        );
    }

    #[test]
    fn an_empty_namespace_and_a_strange_file() {
        let header = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n";
        assert_eq!(parse_packet(header), Some(vec![]));
        assert_eq!(parse_packet(""), None);
        assert_eq!(parse_packet("a b c\n1 2 3\n"), None);
        assert_eq!(
            parse_packet(&format!("{header}0 3 3 0003 x 1 0 0 5\n")),
            None
        );
    }
}

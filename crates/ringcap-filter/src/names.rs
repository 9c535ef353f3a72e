//! Names the language knows: services and IP protocols (tables the caller passes in), Ethernet
//! types and LLC SAPs (libpcap's own built-in tables), and the named constants libpcap's scanner
//! turns into numbers.

use std::collections::HashMap;

const BUILTIN_SERVICES: &[(&str, u16)] = &[
    ("tcpmux", 1),
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("tacacs", 49),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("epmap", 135),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap2", 143),
    ("imap", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("irc", 194),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("isakmp", 500),
    ("syslog", 514),
    ("printer", 515),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("openvpn", 1194),
    ("radius", 1812),
    ("nfs", 2049),
    ("mysql", 3306),
    ("postgresql", 5432),
    ("x11", 6000),
];

/// Service names and their ports (`port http`), as /etc/services lists them. The crate never
/// reads files: the caller hands the table in ([`Services::parse`] of the host's file, or
/// [`Services::well_known`]), so a program depends only on its inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    /// (name, transport) -> port, transport one of "tcp", "udp", "sctp".
    ports: HashMap<(String, String), u32>,
}

impl Services {
    /// A table from text in the format of /etc/services (`name port/proto [aliases] [# ...]`);
    /// the first entry of a name wins, as with getservbyname. Lines it cannot read are skipped.
    pub fn parse(text: &str) -> Services {
        let mut ports: HashMap<(String, String), u32> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(pp)) = (it.next(), it.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            if !matches!(proto, "tcp" | "udp" | "sctp") {
                continue;
            }
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            for n in std::iter::once(name).chain(it) {
                ports
                    .entry((n.to_string(), proto.to_string()))
                    .or_insert(port as u32);
            }
        }
        Services { ports }
    }

    /// A fixed table of well-known services (the same port for TCP and UDP), for hosts without
    /// /etc/services and for tests that must not depend on the host.
    pub fn well_known() -> Services {
        let mut ports = HashMap::new();
        for (n, p) in BUILTIN_SERVICES {
            for proto in ["tcp", "udp"] {
                ports.insert((n.to_string(), proto.to_string()), *p as u32);
            }
        }
        Services { ports }
    }

    /// The port of `name` for `transport` ("tcp", "udp" or "sctp").
    pub fn port(&self, name: &str, transport: &str) -> Option<u32> {
        self.ports
            .get(&(name.to_string(), transport.to_string()))
            .copied()
    }
}

/// The IP protocols of a stock /etc/protocols (names only, as getprotobyname matches them):
/// [`Protocols::well_known`].
const BUILTIN_PROTOCOLS: &[(&str, u32)] = &[
    ("ip", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ggp", 3),
    ("ipencap", 4),
    ("st", 5),
    ("tcp", 6),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("udp", 17),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("xtp", 36),
    ("ddp", 37),
    ("idpr-cmtp", 38),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("skip", 57),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("rspf", 73),
    ("vmtp", 81),
    ("eigrp", 88),
    ("ospf", 89),
    ("ax.25", 93),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("sctp", 132),
    ("fc", 133),
    ("mobility-header", 135),
    ("udplite", 136),
    ("mpls-in-ip", 137),
    ("hip", 139),
    ("shim6", 140),
    ("wesp", 141),
    ("rohc", 142),
];

/// IP protocol names and their numbers (`proto NAME`, `protochain NAME`), as /etc/protocols
/// lists them and tcpdump finds them (getprotobyname: names and aliases, case-sensitive; the
/// first entry of a name wins). Like [`Services`], the crate never reads the file: the caller
/// hands the table in, so a program depends only on its inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protocols {
    numbers: HashMap<String, u32>,
}

impl Protocols {
    /// A table from text in the format of /etc/protocols (`name number [aliases] [# ...]`).
    /// Lines it cannot read are skipped.
    pub fn parse(text: &str) -> Protocols {
        let mut numbers = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(num)) = (it.next(), it.next()) else {
                continue;
            };
            let Ok(num) = num.parse::<u32>() else {
                continue;
            };
            for n in std::iter::once(name).chain(it) {
                numbers.entry(n.to_string()).or_insert(num);
            }
        }
        Protocols { numbers }
    }

    /// A fixed table of the protocols of a stock /etc/protocols (lower-case names, no aliases),
    /// for hosts without the file and for tests that must not depend on the host.
    pub fn well_known() -> Protocols {
        Protocols {
            numbers: BUILTIN_PROTOCOLS
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect(),
        }
    }

    /// The number of protocol `name`.
    pub fn number(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }
}

pub fn ether_proto(name: &str) -> Option<u32> {
    Some(match name {
        "ip" => 0x0800,
        "ip6" => 0x86dd,
        "arp" => 0x0806,
        "rarp" => 0x8035,
        "atalk" => 0x809b,
        "aarp" => 0x80f3,
        "decnet" => 0x6003,
        "lat" => 0x6004,
        "sca" => 0x6007,
        "mopdl" => 0x6001,
        "moprc" => 0x6002,
        "loopback" => 0x9000,
        _ => return None,
    })
}

/// LLC SAP names `ether proto` takes too (libpcap's llc_db).
pub fn llc_proto(name: &str) -> Option<u32> {
    Some(match name {
        "iso" => 0xfe,
        "stp" => 0x42,
        "ipx" => 0xe0,
        "netbeui" => 0xf0,
        _ => return None,
    })
}

/// Named constants that libpcap's scanner returns as numbers.
pub fn constant(name: &str) -> Option<u32> {
    Some(match name {
        "icmptype" => 0,
        "icmpcode" => 1,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-routeradvert" => 9,
        "icmp-routersolicit" => 10,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        "icmp-tstamp" => 13,
        "icmp-tstampreply" => 14,
        "icmp-ireq" => 15,
        "icmp-ireqreply" => 16,
        "icmp-maskreq" => 17,
        "icmp-maskreply" => 18,
        "icmp6type" => 0,
        "icmp6code" => 1,
        "icmp6-destinationunreach" => 1,
        "icmp6-packettoobig" => 2,
        "icmp6-timeexceeded" => 3,
        "icmp6-parameterproblem" => 4,
        "icmp6-echo" => 128,
        "icmp6-echoreply" => 129,
        "icmp6-multicastlistenerquery" => 130,
        "icmp6-multicastlistenerreportv1" => 131,
        "icmp6-multicastlistenerdone" => 132,
        "icmp6-routersolicit" => 133,
        "icmp6-routeradvert" => 134,
        "icmp6-neighborsolicit" => 135,
        "icmp6-neighboradvert" => 136,
        "icmp6-redirect" => 137,
        "icmp6-routerrenum" => 138,
        "icmp6-nodeinformationquery" => 139,
        "icmp6-nodeinformationresponse" => 140,
        "icmp6-ineighbordiscoverysolicit" => 141,
        "icmp6-ineighbordiscoveryadvert" => 142,
        "icmp6-multicastlistenerreportv2" => 143,
        "icmp6-homeagentdiscoveryrequest" => 144,
        "icmp6-homeagentdiscoveryreply" => 145,
        "icmp6-mobileprefixsolicit" => 146,
        "icmp6-mobileprefixadvert" => 147,
        "icmp6-certpathsolicit" => 148,
        "icmp6-certpathadvert" => 149,
        "icmp6-multicastrouteradvert" => 151,
        "icmp6-multicastroutersolicit" => 152,
        "icmp6-multicastrouterterm" => 153,
        "tcpflags" => 13,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        _ => return None,
    })
}

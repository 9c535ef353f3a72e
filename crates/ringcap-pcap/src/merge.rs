//! A k-way merge of capture files by timestamp, like mergecap.
//!
//! Streaming: one record per input is held (in that input's reader buffer) and a heap of their
//! timestamps picks the earliest, so memory is bounded by the number of inputs, not their size.
//! Each input is assumed to be in time order already (as captures are); out-of-order inputs
//! are still merged, record by record, without sorting within an input.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Read;

use crate::{
    Format, Interface, Output, Precision, ReadError, Reader, RecordMeta, WriteError, Writer,
    WriterOptions, DEFAULT_SNAPLEN,
};

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub packets: u64,
    pub interfaces: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("input {input}: {source}")]
    Read {
        input: usize,
        #[source]
        source: ReadError,
    },
    /// (The write error is part of the message, not a separate cause, so it is said once.)
    #[error("{error} ({written} packets written, {not_written} not written)")]
    Write {
        error: WriteError,
        written: u64,
        not_written: u64,
    },
    #[error(
        "a pcap file holds one link type, but the inputs have {0}; write pcapng (--format pcapng)"
    )]
    LinkTypeMix(String),
    #[error("no inputs")]
    NoInputs,
}

/// A k-way merge of readers by timestamp, one record at a time: what [`merge`] writes, and what
/// `ringcap read` prints from several files.
pub struct Merged<'a, R: Read> {
    inputs: &'a mut [Reader<R>],
    heads: Vec<Option<RecordMeta>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    /// The input whose record was returned last: it moves on at the next call, so that the
    /// record's bytes stay in its reader until then.
    current: Option<usize>,
    started: bool,
}

impl<'a, R: Read> Merged<'a, R> {
    pub fn new(inputs: &'a mut [Reader<R>]) -> Self {
        let n = inputs.len();
        Merged {
            inputs,
            heads: vec![None; n],
            heap: BinaryHeap::with_capacity(n),
            current: None,
            started: false,
        }
    }

    pub fn inputs(&self) -> &[Reader<R>] {
        self.inputs
    }

    fn advance(&mut self, i: usize) -> Result<(), (usize, ReadError)> {
        let next = self.inputs[i].next_record().map_err(|e| (i, e))?;
        self.heads[i] = next;
        if let Some(m) = next {
            self.heap.push(Reverse((m.ts_ns, i)));
        }
        Ok(())
    }

    /// The next record in time order, with the index of its input (its bytes:
    /// [`Merged::data`]); `None` when every input has ended. An input's error is returned with
    /// its index; the merge may go on with the other inputs after it.
    pub fn next_record(&mut self) -> Result<Option<(usize, RecordMeta)>, (usize, ReadError)> {
        if !self.started {
            self.started = true;
            for i in 0..self.inputs.len() {
                self.advance(i)?;
            }
        }
        if let Some(i) = self.current.take() {
            self.advance(i)?;
        }
        while let Some(Reverse((_, i))) = self.heap.pop() {
            if let Some(m) = self.heads[i] {
                self.current = Some(i);
                return Ok(Some((i, m)));
            }
        }
        Ok(None)
    }

    /// The bytes of the record last returned.
    pub fn data(&self) -> &[u8] {
        match self.current {
            Some(i) => self.inputs[i].data(),
            None => &[],
        }
    }
}

/// Merges `inputs` into `out` in timestamp order. pcap output needs one link type across all
/// inputs; pcapng output gets one interface description per distinct input interface.
/// On an input error, what was merged before it is flushed and the error returned.
pub fn merge<R: Read, O: Output>(
    inputs: &mut [Reader<R>],
    out: &mut O,
    format: Format,
    precision: Precision,
) -> Result<MergeStats, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoInputs);
    }
    let n_inputs = inputs.len();
    let mut merged = Merged::new(inputs);
    // The first record of every input, so that pcapng inputs have declared their interfaces.
    let first = merged
        .next_record()
        .map_err(|(input, source)| MergeError::Read { input, source })?;
    let mut opts = WriterOptions::new(format, 1, DEFAULT_SNAPLEN);
    opts.precision = precision;
    let mut pcap_linktype = None;
    if format == Format::Pcap {
        let ins = merged.inputs();
        let mut lts: Vec<u32> = ins
            .iter()
            .flat_map(|r| r.interfaces().iter().map(|i| i.linktype))
            .collect();
        lts.sort_unstable();
        lts.dedup();
        if lts.len() > 1 {
            return Err(MergeError::LinkTypeMix(describe(&lts)));
        }
        let snaplen = ins
            .iter()
            .flat_map(|r| r.interfaces().iter().map(|i| i.snaplen))
            .max()
            .filter(|&s| s > 0)
            .unwrap_or(DEFAULT_SNAPLEN)
            .min(crate::MAX_RECORD);
        let lt = lts.first().copied().unwrap_or(1);
        opts.interfaces = vec![Interface::new(None, lt, snaplen)];
        pcap_linktype = Some(lt);
    } else {
        opts.interfaces.clear();
    }
    let mut w = Writer::new(&mut *out, &opts).map_err(|error| MergeError::Write {
        error,
        written: 0,
        not_written: 0,
    })?;
    let werr = |error| MergeError::Write {
        error,
        written: 0,
        not_written: 0,
    };
    // pcapng: output interface of each (input, input interface).
    let mut map: Vec<Vec<Option<u32>>> = vec![Vec::new(); n_inputs];
    let mut stats = MergeStats::default();
    let mut next = first;
    let result = loop {
        let Some((i, m)) = next else {
            break Ok(());
        };
        let iface = match pcap_linktype {
            Some(lt) => {
                if m.linktype != lt {
                    break Err(MergeError::LinkTypeMix(describe(&[lt, m.linktype])));
                }
                0
            }
            None => {
                let slot = &mut map[i];
                if slot.len() <= m.interface as usize {
                    slot.resize(m.interface as usize + 1, None);
                }
                match slot[m.interface as usize] {
                    Some(id) => id,
                    None => {
                        let info = &merged.inputs()[i].interfaces()[m.interface as usize];
                        let snaplen = match info.snaplen {
                            0 => DEFAULT_SNAPLEN,
                            s => s.min(crate::MAX_RECORD),
                        };
                        let id = match w.add_interface(&Interface {
                            name: info.name.clone(),
                            linktype: info.linktype,
                            snaplen: snaplen.max(m.caplen),
                        }) {
                            Ok(id) => id,
                            Err(e) => break Err(werr(e)),
                        };
                        slot[m.interface as usize] = Some(id);
                        stats.interfaces += 1;
                        id
                    }
                }
            }
        };
        if let Err(e) = w.write_packet_on(iface, m.ts_ns, m.orig_len, &[merged.data()]) {
            break Err(werr(e));
        }
        stats.packets += 1;
        next = match merged.next_record() {
            Ok(n) => n,
            Err((input, source)) => break Err(MergeError::Read { input, source }),
        };
    };
    if format == Format::Pcap {
        stats.interfaces = 1;
    }
    let fin = w.finish(&[]).map_err(werr);
    let counts = |e: MergeError| match e {
        MergeError::Write { error, .. } => MergeError::Write {
            error,
            written: w.packets_written(),
            not_written: w.packets_not_written(),
        },
        e => e,
    };
    result.map_err(counts)?;
    fin.map_err(counts)?;
    Ok(stats)
}

fn describe(lts: &[u32]) -> String {
    lts.iter()
        .map(|&l| format!("{} ({l})", crate::linktype::name(l)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(format: Format, lt: u32, times: &[u64]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), &WriterOptions::new(format, lt, 1000)).unwrap();
        for &t in times {
            w.write_packet(t, 60, &[&t.to_le_bytes()]).unwrap();
        }
        w.finish(&[]).unwrap();
        w.get_ref().clone()
    }

    #[test]
    fn merges_in_order() {
        let a = file(Format::Pcap, 1, &[1, 5, 9]);
        let b = file(Format::Pcapng, 1, &[2, 3, 10]);
        let mut ins = vec![Reader::new(&a[..]).unwrap(), Reader::new(&b[..]).unwrap()];
        let mut out = Vec::new();
        let s = merge(&mut ins, &mut out, Format::Pcap, Precision::Nano).unwrap();
        assert_eq!(s.packets, 6);
        let mut r = Reader::new(&out[..]).unwrap();
        let mut ts = Vec::new();
        while let Some(m) = r.next_record().unwrap() {
            ts.push(m.ts_ns);
            assert_eq!(r.data(), &m.ts_ns.to_le_bytes());
        }
        assert_eq!(ts, vec![1, 2, 3, 5, 9, 10]);
    }

    #[test]
    fn linktype_mix() {
        let a = file(Format::Pcap, 1, &[1]);
        let b = file(Format::Pcap, 113, &[2]);
        let mk = || vec![Reader::new(&a[..]).unwrap(), Reader::new(&b[..]).unwrap()];
        let mut out = Vec::new();
        let e = merge(&mut mk(), &mut out, Format::Pcap, Precision::Nano).unwrap_err();
        assert!(matches!(e, MergeError::LinkTypeMix(_)), "{e}");
        let mut out = Vec::new();
        let s = merge(&mut mk(), &mut out, Format::Pcapng, Precision::Nano).unwrap();
        assert_eq!(s.interfaces, 2);
        let mut r = Reader::new(&out[..]).unwrap();
        let lts: Vec<u32> = std::iter::from_fn(|| r.next_record().unwrap())
            .map(|m| m.linktype)
            .collect();
        assert_eq!(lts, vec![1, 113]);
    }
}

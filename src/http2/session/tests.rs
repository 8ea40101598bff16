//! The session driven by raw frames, without a socket.

use super::*;

fn client_start() -> Vec<u8> {
    let mut input = frame::PREFACE.to_vec();
    frame::write_settings(&mut input, &[]);
    input
}

fn get(stream: u32, end_stream: bool) -> Vec<u8> {
    let mut block = Vec::new();
    hpack::encode_field(&mut block, b":method", b"GET");
    hpack::encode_field(&mut block, b":scheme", b"https");
    hpack::encode_field(&mut block, b":path", b"/");
    let mut out = Vec::new();
    frame::write_headers(&mut out, stream, &block, end_stream, 16_384);
    out
}

/// Feeds `input` whole; the events' kinds, or the connection error.
fn feed(session: &mut Session<()>, input: &[u8]) -> Result<Vec<String>, Fatal> {
    let now = Instant::now();
    let mut at = 0;
    let mut events = Vec::new();
    while let Some((n, event)) = session.next_frame(&input[at..], now)? {
        at += n;
        match event {
            Event::Quiet => {}
            Event::Request { stream, .. } => events.push(format!("request {stream}")),
            Event::Refuse { stream, status } => events.push(format!("refuse {stream} {status}")),
            Event::Data { stream, data, end_stream } => {
                events.push(format!("data {stream} {} {end_stream}", data.len()))
            }
            Event::Reset { stream } => events.push(format!("reset {stream}")),
        }
    }
    Ok(events)
}

fn session() -> Session<()> {
    Session::new(16 * 1024, Instant::now())
}

#[test]
fn a_request_and_its_body() {
    let mut s = session();
    let mut input = client_start();
    input.extend(get(1, false));
    frame::write_header(&mut input, 3, frame::DATA, frame::END_STREAM, 1);
    input.extend_from_slice(b"abc");
    assert_eq!(feed(&mut s, &input).unwrap(), ["request 1", "data 1 3 true"]);
    assert!(s.output().len() > 9, "our SETTINGS and ACK");
}

#[test]
fn errors_are_the_rfcs() {
    let cases: [(&str, Vec<u8>, Code); 6] = [
        ("bad preface", b"GET / HTTP/1.1\r\n\r\n".to_vec(), Code::Protocol),
        ("no settings first", [frame::PREFACE.to_vec(), get(1, true)].concat(), Code::Protocol),
        (
            "frame too large",
            {
                let mut i = client_start();
                frame::write_header(&mut i, 20_000, frame::DATA, 0, 1);
                i
            },
            Code::FrameSize,
        ),
        (
            "data on an idle stream",
            {
                let mut i = client_start();
                frame::write_header(&mut i, 0, frame::DATA, 0, 5);
                i
            },
            Code::Protocol,
        ),
        ("even stream", [client_start(), get(2, true)].concat(), Code::Protocol),
        (
            "window overflow",
            {
                let mut i = client_start();
                frame::write_window_update(&mut i, 0, 0x7fff_ffff);
                i
            },
            Code::FlowControl,
        ),
    ];
    for (what, input, code) in cases {
        assert_eq!(feed(&mut session(), &input).map_err(|f| f.code), Err(code), "{what}");
    }
}

#[test]
fn rapid_reset_is_answered_with_calm() {
    let mut s = session();
    let mut input = client_start();
    for i in 0..=MAX_RESETS {
        let id = 2 * i + 1;
        input.extend(get(id, true));
        frame::write_rst_stream(&mut input, id, Code::Cancel);
    }
    assert_eq!(feed(&mut s, &input).map_err(|f| f.code).unwrap_err(), Code::EnhanceYourCalm);
}

#[test]
fn a_ping_flood_is_answered_with_calm() {
    let mut s = session();
    let mut input = client_start();
    for _ in 0..=MAX_IDLE_FRAMES {
        frame::write_header(&mut input, 8, frame::PING, 0, 0);
        input.extend_from_slice(&[0; 8]);
    }
    assert_eq!(feed(&mut s, &input).map_err(|f| f.code).unwrap_err(), Code::EnhanceYourCalm);
}

#[test]
fn the_scheduler_serves_urgency_first_and_flow_control_holds() {
    let mut s = session();
    let mut input = client_start();
    input.extend(get(1, true));
    input.extend(get(3, true));
    feed(&mut s, &input).unwrap();
    s.send_head(1, &[0x88], false);
    s.send_head(3, &[0x88], false);
    s.streams.get_mut(&3).unwrap().priority.urgency = 0;
    s.queue(1);
    s.queue(3);
    assert_eq!(s.pick(Instant::now()).map(|p| p.0), Some(3));
    // The connection window (65,535) is all a client's default allows.
    let (id, allowed) = s.pick(Instant::now()).unwrap();
    assert_eq!((id, allowed), (3, 16_384));
    s.output_mut().clear();
    for _ in 0..4 {
        let (id, allowed) = s.pick(Instant::now()).unwrap();
        s.send_data(id, &vec![0; allowed], false);
        s.output_mut().clear();
    }
    assert_eq!(s.pick(Instant::now()), None, "the connection window is spent");
    let mut update = Vec::new();
    frame::write_window_update(&mut update, 0, 100);
    feed(&mut s, &update).unwrap();
    // Stream 3 spent its own window too: it waits; stream 1 goes.
    let stalled_at = Instant::now();
    assert_eq!(s.pick(stalled_at), Some((1, 100)));
    assert!(s.has_queued());
    assert_eq!(s.stalled_before(stalled_at), Vec::<u32>::new());
    assert_eq!(s.stalled_before(stalled_at + std::time::Duration::from_secs(1)), [3]);
}

/// Frames of random bytes, some of them well-formed headers, never panic
/// the session (the fuzz target `http2_session` explores further).
#[test]
fn random_frames_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut input = client_start();
        for _ in 0..(next() % 8) {
            let kind = (next() % 11) as u8;
            let flags = (next() % 256) as u8;
            let stream = (next() % 8) as u32;
            let len = (next() % 40) as usize;
            let payload: Vec<u8> = if kind == frame::HEADERS && next() % 2 == 0 {
                get(stream | 1, true)[frame::HEADER_LEN..].to_vec()
            } else {
                (0..len).map(|_| next() as u8).collect()
            };
            frame::write_header(&mut input, payload.len(), kind, flags, stream);
            input.extend_from_slice(&payload);
        }
        let mut s = session();
        for event in feed(&mut s, &input).unwrap_or_default() {
            if let Some(id) = event.strip_prefix("request ").and_then(|id| id.parse().ok()) {
                s.send_head(id, &[0x88], false);
                s.queue(id);
            }
        }
        let now = Instant::now();
        while let Some((id, allowed)) = s.pick(now) {
            s.send_data(id, &vec![0; allowed.min(100)], true);
        }
    }
}

#[test]
fn a_block_over_continuations_decodes_as_in_one_frame() {
    let mut block = Vec::new();
    hpack::encode_field(&mut block, b":method", b"GET");
    hpack::encode_field(&mut block, b":scheme", b"https");
    hpack::encode_field(&mut block, b":path", b"/a/path/long/enough");
    hpack::encode_field(&mut block, b"user-agent", b"test");
    // One frame, a few, and as many as MAX_CONTINUATIONS allows.
    let decoded: Vec<Vec<(Vec<u8>, Vec<u8>)>> = [block.len(), 7, block.len().div_ceil(MAX_CONTINUATIONS as usize)]
        .into_iter()
        .map(|max_frame| {
            let mut s = session();
            let mut input = client_start();
            frame::write_headers(&mut input, 1, &block, true, max_frame);
            let (now, mut at, mut seen) = (Instant::now(), 0, None);
            while let Some((n, event)) = s.next_frame(&input[at..], now).unwrap() {
                at += n;
                if let Event::Request { fields, .. } = event {
                    seen = Some(
                        (0..fields.list.len()).map(|i| (fields.name(i).to_vec(), fields.value(i).to_vec())).collect(),
                    );
                }
            }
            seen.expect("the request, whatever its frames")
        })
        .collect();
    assert_eq!(decoded[0].len(), 4);
    assert_eq!(decoded[0][2], (b":path".to_vec(), b"/a/path/long/enough".to_vec()));
    assert_eq!(decoded[1], decoded[0]);
    assert_eq!(decoded[2], decoded[0]);
}

#[test]
fn a_bursts_room_stays_until_it_is_given_back() {
    let mut s = session();
    let mut input = client_start();
    let ids: Vec<u32> = (0..20).map(|i| 2 * i + 1).collect();
    for &id in &ids {
        input.extend(get(id, true));
    }
    assert_eq!(feed(&mut s, &input).unwrap().len(), 20);
    assert!(!s.holds_spare_room(), "20 streams open");
    for &id in &ids {
        s.cancel(id, Code::Cancel);
    }
    assert_eq!(s.open_streams(), 0);
    assert!(s.holds_spare_room(), "the room of 20 streams, kept for the next wave");
    s.shrink_tables();
    assert!(!s.holds_spare_room());
    assert!(s.streams.capacity() >= KEPT_STREAM_ROOM, "capacity {}", s.streams.capacity());
}

#[test]
fn a_recycled_list_lends_its_room_and_nothing_else() {
    let mut s = session();
    let now = Instant::now();
    // The first request has one field more than the second.
    let mut block = Vec::new();
    for (name, value) in [(&b":method"[..], &b"GET"[..]), (b":scheme", b"https"), (b":path", b"/a"), (b"x-first", b"1")]
    {
        hpack::encode_field(&mut block, name, value);
    }
    let mut first = Vec::new();
    frame::write_headers(&mut first, 1, &block, true, 16_384);
    let input = [client_start(), first].concat();
    let mut at = 0;
    let mut room = None;
    while let Some((n, event)) = s.next_frame(&input[at..], now).unwrap() {
        at += n;
        if let Event::Request { fields, .. } = event {
            assert_eq!(fields.list.len(), 4);
            room = Some(fields.bytes.as_ptr());
            s.recycle(fields);
        }
    }
    let second = get(3, true);
    let Some((_, Event::Request { fields, .. })) = s.next_frame(&second, now).unwrap() else {
        panic!("the second request")
    };
    let names: Vec<&[u8]> = (0..fields.list.len()).map(|i| fields.name(i)).collect();
    assert_eq!(names, [&b":method"[..], b":scheme", b":path"]);
    assert_eq!(fields.value(2), b"/");
    assert_eq!(Some(fields.bytes.as_ptr()), room, "decoded into the first list's room");
}

//! A write that fails half-way through a run of QoS 0 publishes, over a
//! real socket: the frames of that run are sent again on the next
//! connection, not counted as written.
//!
//! The broker here is a few lines of MQTT on a loopback socket with a small
//! receive buffer, so the failure is deterministic: after its CONNACK the
//! first connection reads nothing, the publisher's writes fill the kernel's
//! buffers and stall, the stalled write times out (`connect_timeout`) and
//! the publisher drops the connection and reconnects. The second
//! connection reads everything.
#![cfg(feature = "mqtt")]

use std::collections::BTreeSet;
use std::time::Duration;

use iot_core::codec::{Channel, FrameHeader, Limits, Reading, Value, decode_frame};
use iot_core::mqtt::{BackoffConfig, MqttConfig, Publisher, PublisherConfig, Qos, QueueConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One MQTT packet: its first byte and its body.
async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let first = s.read_u8().await.ok()?;
    let mut len = 0usize;
    for shift in (0..28).step_by(7) {
        let b = s.read_u8().await.ok()?;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.ok()?;
    Some((first, body))
}

/// Reads packets until the connection ends (or, with `until_seq`, until
/// that frame arrived), answering CONNECT, QoS 1 publishes and pings;
/// returns the sequence numbers of the frames received.
async fn serve(s: &mut TcpStream, until_seq: Option<u64>) -> BTreeSet<u64> {
    let mut seqs = BTreeSet::new();
    while let Some((first, body)) = read_packet(s).await {
        match first >> 4 {
            1 => s.write_all(&[0x20, 2, 0, 0]).await.unwrap(),
            3 => {
                let topic = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let mut at = 2 + topic;
                if (first >> 1) & 3 > 0 {
                    s.write_all(&[0x40, 2, body[at], body[at + 1]])
                        .await
                        .unwrap();
                    at += 2;
                }
                // Frames decode; status and birth payloads do not.
                if let Ok(frame) = decode_frame(&body[at..], &Limits::default()) {
                    seqs.insert(frame.seq());
                }
                if until_seq.is_some_and(|last| seqs.contains(&last)) {
                    break;
                }
            }
            12 => s.write_all(&[0xd0, 0]).await.unwrap(),
            _ => {}
        }
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_frames_of_a_failed_write_are_sent_again() {
    // 20 MB: more than the kernel buffers of both sockets hold.
    const FRAMES: u64 = 20_000;
    let pad = [0x5a_u8; 1000];
    // A small receive buffer (inherited by accepted sockets): the first
    // connection's writes stall after a few hundred kilobytes.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener: TcpListener = socket.listen(4).unwrap();
    let port = listener.local_addr().unwrap().port();

    let mut mqtt = MqttConfig::new("127.0.0.1", port)
        .client_id("write-fault")
        .keep_alive(Duration::from_secs(60))
        .backoff(BackoffConfig::full_jitter(
            Duration::from_millis(20),
            Duration::from_millis(50),
        ));
    mqtt.connect_timeout = Duration::from_secs(1);
    let config = PublisherConfig::new(mqtt, "dev-w")
        .qos(Qos::AtMostOnce)
        .queue(QueueConfig {
            max_frames: FRAMES as usize,
            max_bytes: 64 << 20,
            ..QueueConfig::default()
        });
    let publisher = Publisher::start(config).unwrap();

    // First connection: CONNACK, then nothing read while the publisher
    // queues every frame and its write stalls, times out and drops the
    // connection; then everything its kernel had accepted.
    let (mut first, _) = listener.accept().await.unwrap();
    let (first_byte, _) = read_packet(&mut first).await.unwrap();
    assert_eq!(first_byte >> 4, 1, "CONNECT");
    first.write_all(&[0x20, 2, 0, 0]).await.unwrap();
    for seq in 0..FRAMES {
        let header = FrameHeader::new("dev-w", seq, 1_700_000_000_000 + seq);
        let readings = [
            Reading::new(Channel::Alias(0), Value::U64(seq)),
            Reading::new(Channel::Alias(1), Value::Bytes(&pad)),
        ];
        publisher.publish(&header, &readings).unwrap();
    }
    let (mut second, _) = listener.accept().await.unwrap();
    let before = serve(&mut first, None).await;
    let after = serve(&mut second, Some(FRAMES - 1)).await;

    let stats = publisher.stats().snapshot();
    let report = format!(
        "first connection read {} frames, second {} (from {:?}); {stats:?}",
        before.len(),
        after.len(),
        after.first()
    );
    // The stall broke a run of writes, and its frames went out again.
    assert!(stats.resent > 0, "{report}");
    assert!(before.len() < FRAMES as usize, "{report}");
    // The second connection carries every frame from the first it sent
    // again: the failed run and everything after it, none skipped.
    let first_again = *after.first().expect("frames on the second connection");
    let gaps: Vec<u64> = (first_again..FRAMES)
        .filter(|seq| !after.contains(seq))
        .collect();
    assert!(
        gaps.is_empty(),
        "{} skipped, e.g. {:?}; {report}",
        gaps.len(),
        &gaps[..gaps.len().min(5)]
    );
    // Each frame counted written once: the failed run's frames when they
    // were sent again, not before. (Frames before the failed run that the
    // first connection's socket had accepted but the kernel dropped with
    // the connection count as written: QoS 0's loss, docs/mqtt.md.)
    assert_eq!(stats.sent, FRAMES, "{report}");
    publisher.close(Duration::from_secs(1)).await;
}

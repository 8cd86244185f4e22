//! The consumer's connection task: polls rumqttc, subscribes after every
//! connect, validates, deduplicates and hands items to `recv`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, Incoming, Outgoing, Packet, PubAck, Publish,
    QoS, StateError, SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::futures::Notified;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::codec::{AliasTable, Limits, decode_birth, decode_frame};

use super::super::coalesce::Coalescer;
use super::super::connection::{Link, take_stale};
use super::super::error::ReceiveError;
use super::super::ledger::{Ledger, Verdict};
use super::super::oversize::{OversizeSkip, Reset};
use super::super::state::Stats;
use super::super::topics::{TopicKind, TopicScheme};
use super::ack::{AckWindow, FrameKey, Redelivery};
use super::{Ack, Delivery, Received, ReceivedFrame, Shared, lock};

pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) client: AsyncClient,
    pub(super) filters: Vec<SubscribeFilter>,
    pub(super) scheme: TopicScheme,
    pub(super) limits: Limits,
    /// Per-device ledgers, each with the device's latest alias table.
    pub(super) ledger: Ledger<Option<Arc<AliasTable>>>,
    /// The ledger's evictions already counted in the stats.
    pub(super) evictions_seen: u64,
    /// A gap the last frame revealed, delivered before that frame.
    pub(super) gap: Option<Received>,
    /// Whether gaps are losses: not for a member of a shared-subscription
    /// group, which sees only its share of each device's frames.
    pub(super) report_gaps: bool,
    pub(super) oversize: OversizeSkip,
    pub(super) tx: mpsc::Sender<Delivery>,
    /// `AckMode::OnRecv`: QoS 1 messages travel with their packet ids.
    pub(super) manual_acks: bool,
    /// `AckMode::Manual`: the messages waiting for the application's
    /// acknowledgement.
    pub(super) window: Option<Arc<AckWindow>>,
    /// Handling the events of a lost connection.
    pub(super) stale: bool,
    /// Whether to pause before reading again.
    pub(super) coalescer: Coalescer,
}

/// What one wait on rumqttc ended with.
enum Step<T> {
    /// rumqttc's poll completed.
    Polled(T),
    /// The consumer is shutting down.
    Shutdown,
    /// Nothing was ready and the coalescer asks for a pause this long.
    Pause(Duration),
    /// The application gave a frame back (`AckMode::Manual`): reconnect.
    Reconnect,
    /// `AckMode::Manual`: PUBACKs are ready to be written.
    Tend,
}

/// Whether the task goes on.
enum Flow {
    Continue,
    Stop,
}

impl Worker {
    pub(super) async fn run(mut self, mut eventloop: EventLoop, mut link: Link) {
        // One `Notified` for the task's life: creating one per event costs
        // two lock round trips on the `Notify`'s waiter list.
        let shared = self.shared.clone();
        let shutdown = shared.shutdown.notified();
        let mut shutdown = std::pin::pin!(shutdown);
        let window = self.window.clone();
        loop {
            if shared.shutdown.is_triggered() {
                break;
            }
            if let Some(window) = &window {
                match self
                    .tend_window(window, &mut eventloop, shutdown.as_mut())
                    .await
                {
                    Tend::Read => {}
                    Tend::Reconnect => {
                        if let Flow::Stop = self
                            .reconnect(&mut eventloop, &mut link, shutdown.as_mut())
                            .await
                        {
                            break;
                        }
                        continue;
                    }
                    Tend::Stop => break,
                }
            }
            // rumqttc first: the shutdown is looked at only while it waits.
            let polled = {
                let poll = eventloop.poll();
                let mut poll = std::pin::pin!(poll);
                let mut idle_seen = false;
                // `AckMode::Manual`: PUBACKs to write, or a frame given
                // back, while rumqttc waits for the network, must not wait
                // for the next packet.
                let mut wake = window.as_deref().map(|w| Box::pin(w.wake.notified()));
                let step = std::future::poll_fn(|cx| {
                    if let Poll::Ready(polled) = poll.as_mut().poll(cx) {
                        return Poll::Ready(Step::Polled(polled));
                    }
                    if shutdown.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Step::Shutdown);
                    }
                    if let (Some(w), Some(wake)) = (window.as_deref(), wake.as_mut()) {
                        while wake.as_mut().poll(cx).is_ready() {
                            if w.reconnect_pending() {
                                return Poll::Ready(Step::Reconnect);
                            }
                            if w.has_sendable() {
                                return Poll::Ready(Step::Tend);
                            }
                            *wake = Box::pin(w.wake.notified());
                        }
                    }
                    // Nothing ready: pause first if the broker keeps waking
                    // this task for a message or two (see `coalesce`).
                    if !idle_seen {
                        idle_seen = true;
                        if let Some(pause) = self.coalescer.on_idle(Instant::now()) {
                            return Poll::Ready(Step::Pause(pause));
                        }
                    }
                    Poll::Pending
                })
                .await;
                match step {
                    Step::Polled(polled) => polled,
                    Step::Shutdown => break,
                    // Dropping rumqttc's poll may cut a packet short: the
                    // connection is dropped anyway.
                    Step::Reconnect => continue,
                    // rumqttc was waiting for the network (its poll had
                    // returned pending): dropping that wait loses nothing.
                    Step::Tend => continue,
                    Step::Pause(pause) => {
                        // rumqttc's poll stays alive and resumes where it was.
                        self.shared.stats.read_pause();
                        tokio::select! {
                            biased;
                            () = shutdown.as_mut() => break,
                            () = tokio::time::sleep(pause) => {}
                        }
                        tokio::select! {
                            biased;
                            polled = poll.as_mut() => polled,
                            () = shutdown.as_mut() => break,
                        }
                    }
                }
            };
            if let Ok(Event::Incoming(Incoming::Publish(_))) = &polled {
                self.coalescer.on_message();
            }
            let flow = match polled {
                Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                    link.on_connack(ack.session_present, &self.shared.client_id);
                    if let Some(window) = &window {
                        window.connected(ack.session_present);
                    }
                    self.oversize.on_connack(&mut eventloop.mqtt_options);
                    // Always (re)subscribe: cheap, and correct even when the
                    // broker lost the session (restart without persistence).
                    if let Err(e) = self.client.try_subscribe_many(self.filters.clone()) {
                        tracing::error!(error = %e, "could not queue the subscription");
                    }
                    Flow::Continue
                }
                Ok(event) => self.on_event(event, shutdown.as_mut()).await,
                Err(error) => {
                    let mut flow = self
                        .connection_lost(&mut eventloop, shutdown.as_mut())
                        .await;
                    if let Some(size) = packet_too_large(&error) {
                        match self.oversize.on_reset(size, &mut eventloop.mqtt_options) {
                            Reset::WillSkip => tracing::warn!(
                                size,
                                "packet over max_packet_size reset the connection; \
                                 the next connection reads it to skip it"
                            ),
                            Reset::TooLargeToSkip => tracing::error!(
                                size,
                                "packet over oversize_skip_limit reset the connection; \
                                 a QoS 1 message will be redelivered and fail again"
                            ),
                        }
                        flow = self
                            .deliver(
                                Err(ReceiveError::PacketTooLarge { size, topic: None }),
                                shutdown.as_mut(),
                            )
                            .await;
                    }
                    let delay = link.on_error(&error, &self.shared.client_id);
                    if self
                        .shared
                        .closing
                        .load(std::sync::atomic::Ordering::Relaxed)
                    {
                        flow = Flow::Stop;
                    }
                    if let Flow::Continue = flow {
                        flow = self
                            .back_off(delay, &mut eventloop, &mut link, shutdown.as_mut())
                            .await;
                    }
                    flow
                }
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        link.closed();
    }

    async fn on_event(&mut self, event: Event, mut shutdown: Pin<&mut Notified<'_>>) -> Flow {
        match event {
            Event::Incoming(Incoming::Publish(publish)) => {
                let live = !self.stale && publish.qos == QoS::AtLeastOnce;
                let ack = (self.manual_acks && live).then(|| Ack {
                    epoch: self.shared.epoch.load(Ordering::SeqCst),
                    pkid: publish.pkid,
                });
                let mut slot = match &self.window {
                    Some(window) if live => Some(window.admit(publish.pkid)),
                    _ => None,
                };
                let item = self.on_publish(publish, &mut slot);
                if let (Some(window), Some(slot)) = (&self.window, slot) {
                    // Not the application's to acknowledge.
                    window.complete(slot);
                }
                if let Some(gap) = self.gap.take() {
                    if let Flow::Stop = self.deliver(gap, shutdown.as_mut()).await {
                        return Flow::Stop;
                    }
                }
                match item {
                    Some(item) => self.hand_over(Some(item), ack, shutdown).await,
                    None if ack.is_some() => self.hand_over(None, ack, shutdown).await,
                    None => Flow::Continue,
                }
            }
            Event::Incoming(Incoming::SubAck(ack)) => {
                if !ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    Stats::add(&self.shared.stats.subscribed, 1);
                }
                for (code, filter) in ack.return_codes.iter().zip(&self.filters) {
                    if *code == SubscribeReasonCode::Failure {
                        let item = Err(ReceiveError::SubscriptionRefused {
                            filter: filter.path.clone(),
                        });
                        if let Flow::Stop = self.deliver(item, shutdown.as_mut()).await {
                            return Flow::Stop;
                        }
                    }
                }
                Flow::Continue
            }
            Event::Outgoing(Outgoing::Disconnect)
                if self
                    .shared
                    .closing
                    .load(std::sync::atomic::Ordering::Relaxed) =>
            {
                Flow::Stop
            }
            _ => Flow::Continue,
        }
    }

    /// Hands an item to `recv`, waiting for room (back-pressure) unless
    /// the consumer is shut down.
    async fn deliver(&self, item: Received, shutdown: Pin<&mut Notified<'_>>) -> Flow {
        self.hand_over(Some(item), None, shutdown).await
    }

    /// Hands an item and/or a packet id to acknowledge to `recv`.
    async fn hand_over(
        &self,
        item: Option<Received>,
        ack: Option<Ack>,
        shutdown: Pin<&mut Notified<'_>>,
    ) -> Flow {
        let stats = &self.shared.stats;
        match &item {
            Some(Ok(_)) => stats.received(),
            // Counted as `missing` when found.
            Some(Err(ReceiveError::FramesMissing { .. })) => {}
            Some(Err(_)) => stats.decode_error(),
            None => {}
        }
        // Room in the channel is the common case: no `select!` then.
        let item = match self.tx.try_send(Delivery { item, ack }) {
            Ok(()) => return Flow::Continue,
            Err(TrySendError::Closed(_)) => return Flow::Stop,
            Err(TrySendError::Full(item)) => item,
        };
        tokio::select! {
            biased;
            () = shutdown => Flow::Stop,
            sent = self.tx.send(item) => match sent {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop,
            },
        }
    }

    /// Validates one message; `None` when there is nothing to deliver.
    ///
    /// `AckMode::Manual`: takes `slot` when the frame's handle waits on it
    /// or it is acknowledged as a duplicate.
    fn on_publish(&mut self, publish: Publish, slot: &mut Option<u64>) -> Option<Received> {
        if let Some(size) = self.oversize.oversized(&publish) {
            // Read on a connection with a raised limit; it is acknowledged
            // like any message (on receipt, or with its error item), and
            // the application learns its topic.
            return Some(Err(ReceiveError::PacketTooLarge {
                size,
                topic: Some(publish.topic),
            }));
        }
        let parsed = match self.scheme.parse(&publish.topic) {
            Ok(p) => p,
            Err(e) => return Some(Err(ReceiveError::Topic(e))),
        };
        match parsed.kind {
            TopicKind::Telemetry => {
                let view = match decode_frame(&publish.payload, &self.limits) {
                    Ok(v) => v,
                    Err(error) => {
                        return Some(Err(ReceiveError::Decode {
                            topic: publish.topic.clone(),
                            len: publish.payload.len(),
                            error,
                        }));
                    }
                };
                if view.device_id() != parsed.device_id {
                    return Some(Err(ReceiveError::DeviceMismatch {
                        topic: publish.topic.clone(),
                        frame_device: view.device_id().into(),
                    }));
                }
                let (seq, timestamp_ms, epoch) = (view.seq(), view.timestamp_ms(), view.epoch());
                let layout = view.layout();
                let shared = &self.shared;
                let stats = &shared.stats;
                // One lookup gives the ledger and the device's alias table;
                // the shared table map is read only for a device new here.
                let (verdict, aliases) =
                    self.ledger
                        .check_with(parsed.device_id, epoch, seq, timestamp_ms, || {
                            lock(&shared.aliases).get_mut(parsed.device_id).cloned()
                        });
                let aliases = aliases.clone();
                match verdict {
                    Verdict::Duplicate => match self.window.as_deref() {
                        None => {
                            stats.duplicate();
                            return None;
                        }
                        Some(window) => {
                            let key = frame_key(parsed.device_id, epoch, seq);
                            match window.on_duplicate(&key, *slot) {
                                Redelivery::Held => {
                                    *slot = None;
                                    return None;
                                }
                                Redelivery::Duplicate => {
                                    *slot = None;
                                    stats.duplicate();
                                    return None;
                                }
                                // Given back by the application: again.
                                Redelivery::Returned => {}
                            }
                        }
                    },
                    Verdict::Fresh { gap: None } => {}
                    Verdict::Fresh { gap: Some(_) } | Verdict::Late if !self.report_gaps => {}
                    Verdict::Fresh {
                        gap: Some((first, last)),
                    } => {
                        stats.missing(last - first + 1);
                        tracing::warn!(
                            device = parsed.device_id,
                            epoch,
                            first,
                            last,
                            "frames missing"
                        );
                        self.gap = Some(Err(ReceiveError::FramesMissing {
                            device: parsed.device_id.to_owned(),
                            epoch,
                            first,
                            last,
                        }));
                    }
                    Verdict::Late => stats.recovered(),
                    Verdict::Stale => Stats::add(&stats.stale, 1),
                    Verdict::NewEpoch => Stats::add(&stats.seq_resets, 1),
                }
                let evictions = self.ledger.evictions();
                if evictions != self.evictions_seen {
                    stats.dedup_evicted(evictions - self.evictions_seen);
                    self.evictions_seen = evictions;
                }
                // Offset of the device level in the topic (it borrows from it).
                let start = parsed.device_id.as_ptr() as usize - publish.topic.as_ptr() as usize;
                let device = start..start + parsed.device_id.len();
                let ack = match self.window.as_ref() {
                    Some(window) if publish.qos == QoS::AtLeastOnce => {
                        Some(window.hold(frame_key(parsed.device_id, epoch, seq), slot.take()))
                    }
                    _ => None,
                };
                Some(Ok(ReceivedFrame {
                    device,
                    payload: publish.payload,
                    layout,
                    aliases,
                    redelivered: publish.dup,
                    topic: publish.topic,
                    ack,
                }))
            }
            TopicKind::Birth => {
                // An empty retained message clears the retained birth.
                if publish.payload.is_empty() {
                    return None;
                }
                let birth = match decode_birth(&publish.payload, &self.limits) {
                    Ok(b) => b,
                    Err(error) => {
                        return Some(Err(ReceiveError::Decode {
                            topic: publish.topic.clone(),
                            len: publish.payload.len(),
                            error,
                        }));
                    }
                };
                if birth.header().device_id != parsed.device_id {
                    return Some(Err(ReceiveError::DeviceMismatch {
                        topic: publish.topic.clone(),
                        frame_device: birth.header().device_id.into(),
                    }));
                }
                match AliasTable::from_birth(&birth) {
                    Ok(table) => {
                        let table = Arc::new(table);
                        lock(&self.shared.aliases).insert(parsed.device_id, table.clone());
                        if let Some(current) = self.ledger.extra_mut(parsed.device_id) {
                            *current = Some(table);
                        }
                        Stats::add(&self.shared.stats.births, 1);
                        None
                    }
                    Err(e) => Some(Err(ReceiveError::DuplicateAlias {
                        topic: publish.topic.clone(),
                        alias: e.alias,
                    })),
                }
            }
            TopicKind::Status | TopicKind::Command => None,
        }
    }
}

/// What the window lets the task do next.
enum Tend {
    Read,
    Reconnect,
    Stop,
}

impl Worker {
    /// `AckMode::Manual`, before each read: PUBACKs of the acknowledged
    /// front of the window, frames given back that will never come again
    /// (reported missing), a reconnect asked for, and back-pressure: at
    /// `max_unacked` nothing more is read until the oldest is acknowledged.
    async fn tend_window(
        &mut self,
        window: &AckWindow,
        eventloop: &mut EventLoop,
        mut shutdown: Pin<&mut Notified<'_>>,
    ) -> Tend {
        let mut pkids = Vec::new();
        loop {
            window.take_sendable(&mut pkids);
            write_acks(eventloop, &mut pkids).await;
            for key in window.take_lost() {
                self.shared.stats.missing(1);
                tracing::warn!(
                    device = key.device,
                    epoch = key.epoch,
                    seq = key.seq,
                    "frame given back, but the broker lost the session: missing"
                );
                let item = Err(ReceiveError::FramesMissing {
                    device: key.device,
                    epoch: key.epoch,
                    first: key.seq,
                    last: key.seq,
                });
                if let Flow::Stop = self.deliver(item, shutdown.as_mut()).await {
                    return Tend::Stop;
                }
            }
            if window.reconnect_pending() {
                return Tend::Reconnect;
            }
            if !window.is_full() {
                return Tend::Read;
            }
            tokio::select! {
                biased;
                () = shutdown.as_mut() => return Tend::Stop,
                () = window.wake.notified() => {}
            }
        }
    }

    /// Drops the connection so that the broker redelivers what the
    /// application gave back, then waits the backoff's delay.
    async fn reconnect(
        &mut self,
        eventloop: &mut EventLoop,
        link: &mut Link,
        mut shutdown: Pin<&mut Notified<'_>>,
    ) -> Flow {
        let Some(window) = self.window.clone() else {
            return Flow::Continue;
        };
        window.take_reconnect();
        // Drops the network (rumqttc reconnects at its next poll).
        eventloop.clean();
        let flow = self.connection_lost(eventloop, shutdown.as_mut()).await;
        let reason = ConnectionError::Io(std::io::Error::other(
            "a frame was given back (AckMode::Manual): reconnecting for its redelivery",
        ));
        let delay = link.on_error(&reason, &self.shared.client_id);
        match flow {
            Flow::Continue => self.back_off(delay, eventloop, link, shutdown).await,
            Flow::Stop => Flow::Stop,
        }
    }

    /// The connection is gone (rumqttc's `clean` ran): voids its packet
    /// ids, then delivers the events rumqttc still held of it.
    async fn connection_lost(
        &mut self,
        eventloop: &mut EventLoop,
        mut shutdown: Pin<&mut Notified<'_>>,
    ) -> Flow {
        // Before anything else: acknowledgements of this connection's
        // packet ids are void from now on.
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(window) = &self.window {
            // Its slots are void (their PUBACKs are written by this task,
            // never queued in rumqttc's channel).
            window.connection_lost();
        }
        let (stale, _) = take_stale(eventloop);
        let mut flow = Flow::Continue;
        // Stale publishes are delivered without acknowledgement: their
        // packet ids belong to the lost connection, and the broker
        // redelivers them to the session.
        self.stale = true;
        for event in stale {
            if let Flow::Stop = self.on_event(event, shutdown.as_mut()).await {
                flow = Flow::Stop;
            }
        }
        self.stale = false;
        flow
    }

    /// Waits `delay` (or the shutdown), then prepares the next attempt.
    async fn back_off(
        &self,
        delay: Duration,
        eventloop: &mut EventLoop,
        link: &mut Link,
        shutdown: Pin<&mut Notified<'_>>,
    ) -> Flow {
        tokio::select! {
            biased;
            () = shutdown => return Flow::Stop,
            () = tokio::time::sleep(delay) => {}
        }
        link.prepare(&mut eventloop.mqtt_options, &self.shared.client_id);
        Flow::Continue
    }
}

/// Writes the PUBACKs of `pkids` to the socket and flushes once, then
/// clears `pkids`. A write that fails leaves the connection to fail at the
/// next read, where a lost connection is handled (the broker redelivers).
async fn write_acks(eventloop: &mut EventLoop, pkids: &mut Vec<u16>) {
    if pkids.is_empty() {
        return;
    }
    if let Some(network) = eventloop.network.as_mut() {
        let write = async {
            for pkid in pkids.iter() {
                network.write(Packet::PubAck(PubAck::new(*pkid))).await?;
            }
            network.flush().await
        };
        match tokio::time::timeout(ACK_WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "PUBACK write failed"),
            Err(_) => tracing::debug!("PUBACK write timed out"),
        }
    }
    pkids.clear();
}

/// How long writing a window's PUBACKs may take before the connection is
/// left to its read timeout.
const ACK_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn frame_key(device: &str, epoch: u64, seq: u64) -> FrameKey {
    FrameKey {
        device: device.to_owned(),
        epoch,
        seq,
    }
}

/// The size of an incoming packet rumqttc refused as too large.
fn packet_too_large(error: &ConnectionError) -> Option<usize> {
    match error {
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => Some(*size),
        _ => None,
    }
}

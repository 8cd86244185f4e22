-- iot-rs store: PostgreSQL schema v1 (examples/src/store, docs/sinks.md).
-- Idempotent; concurrent runs wait for each other.
BEGIN;
SELECT pg_advisory_xact_lock(7597418834956676978);
CREATE TABLE IF NOT EXISTS readings (
    device  text             NOT NULL,
    epoch   bigint           NOT NULL,
    seq     bigint           NOT NULL,
    channel text             NOT NULL,
    ts      timestamptz      NOT NULL,
    kind    text             NOT NULL
            CHECK (kind IN ('f64', 'f32', 'i64', 'u64', 'bool', 'str', 'bytes')),
    v_float double precision,
    v_int   bigint,
    v_uint  numeric(20, 0)   CHECK (v_uint >= 0),
    v_bool  boolean,
    v_text  text,
    v_bytes bytea,
    unit    text,
    PRIMARY KEY (device, channel, ts, epoch, seq)
);
CREATE INDEX IF NOT EXISTS readings_ts_brin ON readings USING brin (ts);
COMMIT;

-- The W3C trace context of the event a delivery is for, so that sending it
-- (later, from the outbox) joins that event's trace; NULL without traces.
ALTER TABLE alert_deliveries ADD COLUMN traceparent TEXT;

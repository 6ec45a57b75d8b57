-- Room on each page for the new version of a row that is updated in place, so that the update
-- stays on its page (a heap-only tuple) and writes no index entries: a subscription's registration
-- state and status change with every registration, activation and settlement, and a cart's status
-- and lines with its checkout, and neither table indexes those columns. Pages written before this
-- migration keep their contents until rewritten; new ones leave the room.
alter table subscriptions set (fillfactor = 90);
alter table carts set (fillfactor = 90);

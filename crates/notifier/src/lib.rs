//! notifier: consumes `post-process`, evaluates each project's alert rules
//! against the event and its issue, and delivers what fired.

pub mod evaluate;

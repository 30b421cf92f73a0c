//! BTYD models (in progress).

//! Hostile clients against the real binary over real sockets: huge or malformed headers, many
//! unread answers beside a scraper that must keep being served, and shutdown with them pending.
//! Each module is one surface; the assertions are status codes and body sizes (memory figures
//! are in the benches).

mod sd;

/** @pixpax/player-agent — skeleton; built out by its own issue. */
export {}

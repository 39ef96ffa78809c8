/** @pixpax/web — skeleton; built out by its own issue. */
export {}

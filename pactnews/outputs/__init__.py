"""What the build publishes besides the data: card, datasheet, Croissant, site, exports, releases."""

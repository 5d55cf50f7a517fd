"""Browse-all: an event's whole gallery behind a link with its own password and expiry,
for those whose face search missed (the back of a head, a mask). Off by default."""

"""An event's brand: logo, accent colour and welcome text on its attendee pages and mails."""

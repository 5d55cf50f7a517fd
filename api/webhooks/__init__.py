"""An event's webhook: its URL and secret, a test delivery, the delivery log; and an
attendee's consent to let the organiser learn their email."""

"""The application layer: settings, the event-sourced application, and the composition root."""

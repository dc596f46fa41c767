"""Server-rendered pages of the front office, from the same app and reads as the JSON API."""

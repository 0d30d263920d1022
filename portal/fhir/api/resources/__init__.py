"""Every resource type the API serves; importing this package registers them."""

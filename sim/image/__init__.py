"""Memory images: the phext file that holds a coordinate memory's entries."""

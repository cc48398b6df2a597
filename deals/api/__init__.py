"""The read-only deals API: only what ``Deal.objects.displayable()`` lets through."""

"""One module per destination kind: pure builders of the requests each vendor documents."""

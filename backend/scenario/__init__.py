"""`pledgewatch scenario run FILE`: what-if runs of a collateral book in simulated time."""

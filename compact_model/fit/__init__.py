"""lmfit fits of the compact model to measured data."""

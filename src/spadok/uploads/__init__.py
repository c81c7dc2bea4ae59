"""Resumable uploads (tus 1.0) that become captures once their last byte arrives."""

"""Security controls shared by every concern: safe names from outside, secret checks."""

"""Customer publish client and vendor subscriber SDK; they meet the processors only via topics."""

// POSIXMessage.swift
// errno text for error messages.

import Foundation

/// `strerror` text for an errno value.
func posixMessage(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

package fingerprint

// hashVectors are {product, name, value, HashValue}: recorded once, they
// must never change, or every issued license binding breaks.
// The first was checked independently: Python's
// hmac.new(b"airseal fingerprint v1\x00acme", b"mac\x00d0:94:66:1a:2b:3c",
// hashlib.sha256).hexdigest()[:32].
var hashVectors = [][4]string{
	{"acme", "mac", "d0:94:66:1a:2b:3c", "0975c0c68ddc3060fb449d060188e5d8"},
	{"globex", "mac", "d0:94:66:1a:2b:3c", "eb5a7a3c638c50e414576023c38ecd91"},
	{"acme", "system_uuid", "44454c4c-5900-1042-8056-b2c04f584b33", "a5998b5c800fddd48cbdc880ed1689a3"},
	{"", "cpu", "", "20fecef4ed4587089c88bd7d4854e341"},
}

// idVector is machine().ID().
const idVector = "96BE9-10E20-23E12-B815D"

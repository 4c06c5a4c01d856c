package awsapi

// Option adjusts a Config before NewServer: the identity options every
// emulator offers. An emulator fills Config.Principals with its default
// principal first.
type Option func(*Config)

// WithCredentials sets the default principal's credentials.
func WithCredentials(c Credentials) Option {
	return func(cfg *Config) { cfg.Principals[0].Credentials = c }
}

// WithAccount sets the default principal's account.
func WithAccount(account string) Option {
	return func(cfg *Config) { cfg.Principals[0].Account = account }
}

// WithPrincipal makes the server accept another identity, of the given
// account.
func WithPrincipal(c Credentials, account string) Option {
	return func(cfg *Config) {
		cfg.Principals = append(cfg.Principals, Principal{Credentials: c, Account: account})
	}
}

// WithoutSignatureCheck keeps every authentication check but the
// cryptographic verification of the signature.
func WithoutSignatureCheck() Option { return func(cfg *Config) { cfg.SkipSignature = true } }

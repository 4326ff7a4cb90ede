// Package clientauth is how every outgoing client of facmon (the MQTT
// collector, the scrape collector, the notifiers, the simulator and the
// CLI) authenticates: one TLS settings type with one builder, one basic
// authentication type, and one reader of secret files. Keeping them in one
// place means one error wording, one empty-file policy and one minimum TLS
// version for every connection.
package clientauth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// TLS configures a client TLS connection from files.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Enabled reports whether any TLS setting was given.
func (t TLS) Enabled() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// Build loads the files and returns the client configuration. path is the
// configuration path of these settings (e.g. "mqtt.tls"), so an error says
// which file of which section failed.
func (t TLS) Build(path string) (*tls.Config, error) {
	tc := &tls.Config{
		// TLS 1.2 is the oldest version without known practical attacks
		// that the brokers and Alertmanager offices run still speak.
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", path, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file %s: no PEM certificate in it", path, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", path, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// BasicAuth is HTTP basic authentication with the password in a file, so
// the configuration itself never holds a secret.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// Set reports whether any basic-auth setting was given.
func (b BasicAuth) Set() bool { return b.Username != "" || b.PasswordFile != "" }

// ReadSecret reads a password or token file without its trailing newline.
// An empty file is an error: it is nearly always a secret that was not
// written yet or was truncated, and sending an empty password would fail
// later with a less helpful message. The error names the file, never its
// content.
func ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("read secret: %s is empty", path)
	}
	return s, nil
}

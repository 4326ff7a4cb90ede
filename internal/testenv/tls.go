package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// testPKI is a throw-away certificate authority with one server certificate (for
// 127.0.0.1, ::1 and localhost) and one client certificate, written as PEM files.
type testPKI struct {
	CAFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile string
}

// clientCN is the common name of the generated client certificate; a broker with
// use_identity_as_username would see it as the username.
const clientCN = "facmon-test-client"

// newTestPKI generates the CA and certificates in dir. ECDSA P-256 keys: generating
// them takes microseconds, where RSA keys would make every TLS test slow.
func newTestPKI(dir string) (*testPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Backdate NotBefore so a clock that is a little behind does not reject the
	// fresh certificates.
	notBefore := time.Now().Add(-time.Hour)
	notAfter := time.Now().Add(10 * 365 * 24 * time.Hour)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "facmon test CA", Organization: []string{"facmon testenv"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	leaf := func(cn string, usage x509.ExtKeyUsage, server bool) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"facmon testenv"}},
			NotBefore:    notBefore,
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			// Clients verify the name they dialled against the SANs (the CN is ignored
			// by Go and by OpenSSL's host check), so both addresses and the name go in.
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		return der, key, err
	}
	srvDER, srvKey, err := leaf("localhost", x509.ExtKeyUsageServerAuth, true)
	if err != nil {
		return nil, err
	}
	cliDER, cliKey, err := leaf(clientCN, x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}

	p := &testPKI{
		CAFile:         filepath.Join(dir, "ca.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server-key.pem"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client-key.pem"),
	}
	for _, w := range []struct {
		path string
		der  []byte
		key  *ecdsa.PrivateKey
	}{
		{p.CAFile, caDER, nil},
		{p.ServerCertFile, srvDER, nil},
		{p.ServerKeyFile, nil, srvKey},
		{p.ClientCertFile, cliDER, nil},
		{p.ClientKeyFile, nil, cliKey},
	} {
		var block *pem.Block
		if w.key != nil {
			der, err := x509.MarshalPKCS8PrivateKey(w.key)
			if err != nil {
				return nil, err
			}
			block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		} else {
			block = &pem.Block{Type: "CERTIFICATE", Bytes: w.der}
		}
		if err := os.WriteFile(w.path, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// clientTLSConfig trusts only the test CA and presents the client certificate.
func (p *testPKI) clientTLSConfig() (*tls.Config, error) {
	caPEM, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", p.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

package clientauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writePair writes a self-signed certificate and its key as PEM files.
func writePair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "facmon-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	for _, tc := range []struct {
		name    string
		in      TLS
		wantErr string
		check   func(*testing.T, *tls.Config)
	}{
		{name: "defaults", in: TLS{ServerName: "broker.local"}, check: func(t *testing.T, c *tls.Config) {
			assert.Equal(t, uint16(tls.VersionTLS12), c.MinVersion)
			assert.Equal(t, "broker.local", c.ServerName)
			assert.Nil(t, c.RootCAs, "the system roots when no CA file is given")
			assert.False(t, c.InsecureSkipVerify)
		}},
		{name: "ca and client certificate", in: TLS{CAFile: cert, CertFile: cert, KeyFile: key}, check: func(t *testing.T, c *tls.Config) {
			assert.NotNil(t, c.RootCAs)
			assert.Len(t, c.Certificates, 1)
		}},
		{name: "insecure is kept", in: TLS{InsecureSkipVerify: true}, check: func(t *testing.T, c *tls.Config) {
			assert.True(t, c.InsecureSkipVerify)
		}},
		{name: "missing ca", in: TLS{CAFile: filepath.Join(dir, "none.pem")}, wantErr: "mqtt.tls.ca_file: open "},
		{name: "ca not pem", in: TLS{CAFile: notPEM}, wantErr: "mqtt.tls.ca_file " + notPEM + ": no PEM certificate in it"},
		{name: "key without certificate", in: TLS{KeyFile: key}, wantErr: "mqtt.tls.cert_file/key_file: "},
		{name: "certificate without key", in: TLS{CertFile: cert}, wantErr: "mqtt.tls.cert_file/key_file: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.in.Build("mqtt.tls")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestEnabledAndSet(t *testing.T) {
	assert.False(t, TLS{}.Enabled())
	assert.True(t, TLS{ServerName: "x"}.Enabled())
	assert.True(t, TLS{InsecureSkipVerify: true}.Enabled())
	assert.False(t, BasicAuth{}.Set())
	assert.True(t, BasicAuth{PasswordFile: "/p"}.Set())
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	for _, tc := range []struct {
		name, path, want, wantErr string
	}{
		{name: "trailing newline trimmed", path: write("pw", "s3cret\n"), want: "s3cret"},
		{name: "windows newline trimmed", path: write("crlf", "s3cret\r\n"), want: "s3cret"},
		{name: "inner spaces kept", path: write("spaces", " a b \n"), want: " a b "},
		{name: "empty refused", path: write("empty", "\n"), wantErr: "is empty"},
		{name: "missing names the file", path: filepath.Join(dir, "missing"), wantErr: filepath.Join(dir, "missing")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSecret(tc.path)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "s3cret", "an error never carries a secret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

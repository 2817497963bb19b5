import assert from 'node:assert/strict';
import { buildTlsConfig, ConfigError, parseUrlList } from '../../../src/server/etcdserver/config.js';
import { TlsConfigError, buildTlsProtocol, cipherListOf, requiresClientCertificate, tlsVersionOf } from '../../../src/server/tls/tls-info.js';
import { groupListenUrls, listenAddressOf } from '../../../src/server/listen/listener.js';
import { RateLimitedLog } from '../../../src/server/listen/rate-limited-log.js';
import { rejectionLogsPerSecond } from '../../../src/server/listen/limits.js';

const urls = (text: string): URL[] => parseUrlList('test', text);

describe('TLS configuration, as etcd reads its flags', () => {
  describe('cipher suites and versions', () => {
    it('maps Go\'s suite names to OpenSSL\'s, accepts the TLS 1.3 names, and refuses unknown names with etcd\'s error', () => {
      assert.equal(cipherListOf(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305']), 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305');
      assert.equal(cipherListOf([]), undefined);
      assert.equal(cipherListOf(['TLS_AES_128_GCM_SHA256']), undefined, 'TLS 1.3 suites are not configurable, as in Go');
      assert.throws(() => cipherListOf(['TLS_RSA_WITH_NOTHING']), new TlsConfigError('unexpected TLS cipher suite "TLS_RSA_WITH_NOTHING"'));
    });

    it('takes etcd 3.5\'s version names and refuses what it cannot honour', () => {
      assert.equal(tlsVersionOf('tls-min-version', ''), undefined);
      assert.equal(tlsVersionOf('tls-min-version', 'TLS1.3'), 'TLSv1.3');
      assert.throws(() => tlsVersionOf('tls-min-version', 'TLS1.1'), /below TLS1.2/);
      assert.throws(() => tlsVersionOf('tls-min-version', 'SSL3'), /unexpected TLS version "SSL3"/);
      assert.throws(() => buildTlsProtocol([], 'TLS1.3', 'TLS1.2'), /min version .* is greater than max version/);
      assert.deepEqual(buildTlsProtocol([], '', ''), { ciphers: undefined, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    });
  });

  describe('flag combinations', () => {
    const plain = { listenClient: urls('http://127.0.0.1:2379'), listenPeer: urls('http://127.0.0.1:2380') };

    it('requires a certificate and key for https:// and unixs:// URLs, unless auto TLS makes one', () => {
      assert.throws(() => buildTlsConfig({}, urls('https://127.0.0.1:2379'), plain.listenPeer),
        new ConfigError('TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme'));
      assert.throws(() => buildTlsConfig({}, urls('unixs://localhost:2379'), plain.listenPeer), /must be provided for client url unixs:\/\/localhost:2379/);
      assert.throws(() => buildTlsConfig({}, plain.listenClient, urls('https://127.0.0.1:2380')), /cannot listen on TLS for 127\.0\.0\.1:2380/);
      assert.doesNotThrow(() => buildTlsConfig({ autoTls: true, peerAutoTls: true }, urls('https://127.0.0.1:2379'), urls('https://127.0.0.1:2380')));
      assert.throws(() => buildTlsConfig({ certFile: 'a.crt' }, plain.listenClient, plain.listenPeer), /KeyFile and CertFile must both be present/);
    });

    it('turns on the peer SAN check unless --experimental-peer-skip-client-san-verification', () => {
      assert.equal(buildTlsConfig({}, plain.listenClient, plain.listenPeer).peerTls.checkClientSan, true);
      assert.equal(buildTlsConfig({ peerSkipClientSanVerification: true }, plain.listenClient, plain.listenPeer).peerTls.checkClientSan, false);
      assert.equal(buildTlsConfig({}, plain.listenClient, plain.listenPeer).clientTls.checkClientSan, false, 'etcd checks SANs on peer connections only');
    });

    it('requires client certificates with --client-cert-auth or a trusted CA file, as etcd\'s ServerConfig does', () => {
      const tls = (raw: Parameters<typeof buildTlsConfig>[0]) => buildTlsConfig({ certFile: 'c', keyFile: 'k', ...raw }, plain.listenClient, plain.listenPeer).clientTls;
      assert.equal(requiresClientCertificate(tls({})), false);
      assert.equal(requiresClientCertificate(tls({ clientCertAuth: true })), true);
      assert.equal(requiresClientCertificate(tls({ trustedCaFile: 'ca.crt' })), true);
    });

    it('wants host:port in every URL, unix ones included, whatever the URL parser drops', () => {
      assert.doesNotThrow(() => urls('http://127.0.0.1:80'));
      assert.throws(() => urls('unix:///var/run/etcd.sock'), /URL address does not have the form "host:port"/);
      assert.throws(() => urls('https://127.0.0.1'), /does not have the form "host:port"/);
    });
  });

  describe('listen addresses', () => {
    it('serves an http:// and an https:// URL on the same address from one listener, as etcd does', () => {
      const groups = groupListenUrls(urls('http://127.0.0.1:2379,https://127.0.0.1:2379,https://127.0.0.1:2380'));
      assert.deepEqual(groups.map((g) => [g.address, g.secure, g.insecure]), [
        [{ kind: 'tcp', host: '127.0.0.1', port: 2379 }, true, true],
        [{ kind: 'tcp', host: '127.0.0.1', port: 2380 }, true, false],
      ]);
    });

    it('names unix sockets after the URL\'s host:port and strips IPv6 brackets', () => {
      assert.deepEqual(listenAddressOf(new URL('unix://localhost:2379')), { kind: 'unix', path: 'localhost:2379' });
      assert.deepEqual(listenAddressOf(new URL('https://[::1]:2379')), { kind: 'tcp', host: '::1', port: 2379 });
    });
  });

  it('logs a repeated warning at most rejectionLogsPerSecond times a second, then says how many it held back', () => {
    const lines: Array<Record<string, unknown>> = [];
    let now = 0;
    const log = new RateLimitedLog({ warn: (fields) => lines.push(fields as Record<string, unknown>) }, () => now);
    for (let i = 0; i < rejectionLogsPerSecond + 5; i++) log.warn({ i }, 'rejected connection');
    assert.equal(lines.length, rejectionLogsPerSecond);
    now = 1000;
    log.warn({ i: 'next' }, 'rejected connection');
    assert.deepEqual(lines.at(-1), { i: 'next', 'suppressed-since-last': 5 });
  });
});

// etcd-load drives an etcd-compatible cluster with etcd's own Go client
// (clientv3, the client Kubernetes and most operators' tools use) and prints
// one JSON line of results: the load that etcdts is measured with, so that
// its figures are a Go client's, not our own client's.
//
// Built in GOPATH mode from Debian's golang-etcd-server-dev (bench/go/build.sh).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/pkg/transport"
	"google.golang.org/grpc/metadata"
)

// Where closedLoop writes each request's start and latency (-latency-log), if set.
var latencyLog string

type options struct {
	endpoints []string
	workload  string
	clients   int
	conns     int
	duration  time.Duration
	valueSize int
	keys      int
	leases    int
	watchers  int
	streams   int
	putRate   int
	tls       *tls.Config
}

type result struct {
	Workload  string  `json:"workload"`
	Clients   int     `json:"clients"`
	Conns     int     `json:"conns"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"opsPerSec"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	MaxMs     float64 `json:"maxMs"`
	// Watch workloads: events delivered, and puts made.
	Events int64 `json:"events,omitempty"`
	Puts   int64 `json:"puts,omitempty"`
	// The first error seen, to tell a broken run from a slow one.
	FirstError string `json:"firstError,omitempty"`
}

func main() {
	o := parseOptions()
	clients := connect(o)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var r result
	switch o.workload {
	case "put", "txn-put", "range-l", "range-s", "mixed":
		r = closedLoop(o, clients)
	case "fill":
		r = fillOnce(o, clients)
	case "keepalive":
		r = keepAlive(o, clients)
	case "watch":
		r = watchLatency(o, clients)
	default:
		fail("unknown workload %q (put, txn-put, range-l, range-s, mixed, fill, keepalive, watch)", o.workload)
	}
	r.Workload, r.Clients, r.Conns = o.workload, o.clients, o.conns
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func parseOptions() options {
	var o options
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated endpoints")
	flag.StringVar(&o.workload, "workload", "put", "put, txn-put, range-l, range-s, mixed, fill (each key of -keys once, no duration), keepalive, watch")
	flag.IntVar(&o.clients, "clients", 1, "concurrent closed-loop clients")
	flag.IntVar(&o.conns, "conns", 1, "gRPC connections (clientv3 clients) the clients share")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "how long to measure")
	flag.IntVar(&o.valueSize, "val-size", 256, "value size in bytes")
	flag.IntVar(&o.keys, "keys", 10000, "key space")
	flag.IntVar(&o.leases, "leases", 1000, "leases kept alive (keepalive)")
	flag.IntVar(&o.watchers, "watchers", 1000, "watchers (watch)")
	flag.IntVar(&o.streams, "streams", 10, "watch streams the watchers are spread over (watch)")
	flag.IntVar(&o.putRate, "put-rate", 500, "puts per second to the watched keys (watch)")
	cacert := flag.String("cacert", "", "CA bundle to verify the servers with")
	cert := flag.String("cert", "", "client certificate")
	key := flag.String("key", "", "client key")
	flag.StringVar(&latencyLog, "latency-log", "", "closed-loop workloads: write each request's start (unix ms) and latency (ms) to this file")
	flag.Parse()
	o.endpoints = strings.Split(*endpoints, ",")
	if *cacert != "" || *cert != "" {
		info := transport.TLSInfo{TrustedCAFile: *cacert, CertFile: *cert, KeyFile: *key}
		cfg, err := info.ClientConfig()
		if err != nil {
			fail("TLS: %v", err)
		}
		o.tls = cfg
	}
	if o.conns < 1 || o.clients < 1 {
		fail("--clients and --conns must be at least 1")
	}
	return o
}

func connect(o options) []*clientv3.Client {
	clients := make([]*clientv3.Client, o.conns)
	for i := range clients {
		c, err := clientv3.New(clientv3.Config{Endpoints: o.endpoints, DialTimeout: 5 * time.Second, TLS: o.tls})
		if err != nil {
			fail("connect: %v", err)
		}
		clients[i] = c
	}
	return clients
}

// recorder gathers latencies and counts from many goroutines.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	// When each request of latencies started (closed-loop workloads), for -latency-log.
	starts []time.Time
	ops       int64
	errors    int64
	first     atomic.Value
}

func (r *recorder) done(start time.Time, err error) {
	if err != nil {
		atomic.AddInt64(&r.errors, 1)
		r.first.CompareAndSwap(nil, err.Error())
		return
	}
	d := time.Since(start)
	atomic.AddInt64(&r.ops, 1)
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.starts = append(r.starts, start)
	r.mu.Unlock()
}

// writeLog writes "<start unix ms> <latency ms>" per successful request, before result() sorts.
func (r *recorder) writeLog(path string) {
	f, err := os.Create(path)
	if err != nil {
		fail("latency log: %v", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for i, d := range r.latencies {
		if i < len(r.starts) {
			fmt.Fprintf(w, "%.3f %.3f\n", float64(r.starts[i].UnixNano())/1e6, ms(d))
		}
	}
	if err := w.Flush(); err != nil {
		fail("latency log: %v", err)
	}
}

func (r *recorder) result(elapsed time.Duration) result {
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	out := result{Ops: r.ops, Errors: r.errors, Seconds: elapsed.Seconds(), OpsPerSec: float64(r.ops) / elapsed.Seconds()}
	if n := len(r.latencies); n > 0 {
		out.P50Ms = ms(r.latencies[n/2])
		out.P99Ms = ms(r.latencies[(n*99)/100])
		out.MaxMs = ms(r.latencies[n-1])
	}
	if f, ok := r.first.Load().(string); ok {
		out.FirstError = f
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// closedLoop runs `clients` goroutines, each issuing one request at a time for the duration.
func closedLoop(o options, conns []*clientv3.Client) result {
	value := strings.Repeat("v", o.valueSize)
	if o.workload != "put" && o.workload != "txn-put" {
		// Reads need keys to read: write the key space once, outside the measurement.
		fill(conns[0], o.keys, value)
	}
	var rec recorder
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < o.clients; i++ {
		c := conns[i%len(conns)]
		rnd := rand.New(rand.NewSource(int64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				key := "k/" + strconv.Itoa(rnd.Intn(o.keys))
				t := time.Now()
				err := request(ctx, c, o.workload, key, value, rnd)
				if ctx.Err() != nil {
					return
				}
				rec.done(t, err)
			}
		}()
	}
	wg.Wait()
	if latencyLog != "" {
		rec.writeLog(latencyLog)
	}
	return rec.result(time.Since(start))
}

func request(ctx context.Context, c *clientv3.Client, workload, key, value string, rnd *rand.Rand) error {
	var err error
	switch workload {
	case "put":
		_, err = c.Put(ctx, key, value)
	case "txn-put":
		_, err = c.Txn(ctx).Then(clientv3.OpPut(key, value)).Commit()
	case "range-l":
		_, err = c.Get(ctx, key)
	case "range-s":
		_, err = c.Get(ctx, key, clientv3.WithSerializable())
	case "mixed":
		if rnd.Intn(10) == 0 {
			_, err = c.Put(ctx, key, value)
		} else {
			_, err = c.Get(ctx, key)
		}
	}
	return err
}

func fill(c *clientv3.Client, keys int, value string) {
	for i := 0; i < keys; i += 100 {
		ops := []clientv3.Op{}
		for j := i; j < i+100 && j < keys; j++ {
			ops = append(ops, clientv3.OpPut("k/"+strconv.Itoa(j), value))
		}
		if _, err := c.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			fail("fill: %v", err)
		}
	}
}

// fillOnce writes every key of the key space once ("fill/<n>", -val-size bytes), from
// `clients` goroutines: a database of keys × val-size bytes, e.g. for a defragmentation.
func fillOnce(o options, conns []*clientv3.Client) result {
	value := strings.Repeat("v", o.valueSize)
	var rec recorder
	var next int64 = -1
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < o.clients; i++ {
		c := conns[i%len(conns)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := atomic.AddInt64(&next, 1); k < int64(o.keys); k = atomic.AddInt64(&next, 1) {
				t := time.Now()
				_, err := c.Put(context.Background(), "fill/"+strconv.FormatInt(k, 10), value)
				rec.done(t, err)
			}
		}()
	}
	wg.Wait()
	return rec.result(time.Since(start))
}

// keepAlive grants `leases` leases, then renews random ones with KeepAliveOnce from `clients` goroutines.
func keepAlive(o options, conns []*clientv3.Client) result {
	ids := make([]clientv3.LeaseID, o.leases)
	for i := range ids {
		resp, err := conns[i%len(conns)].Grant(context.Background(), 600)
		if err != nil {
			fail("grant: %v", err)
		}
		ids[i] = resp.ID
	}
	var rec recorder
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < o.clients; i++ {
		c := conns[i%len(conns)]
		rnd := rand.New(rand.NewSource(int64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t := time.Now()
				_, err := c.KeepAliveOnce(ctx, ids[rnd.Intn(len(ids))])
				if ctx.Err() != nil {
					return
				}
				rec.done(t, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, id := range ids {
		conns[i%len(conns)].Revoke(context.Background(), id)
	}
	return rec.result(elapsed)
}

// watchLatency spreads `watchers` watchers over `streams` watch streams on one
// prefix, puts `put-rate` values a second carrying their send time, and
// measures each event's delay from put to delivery.
func watchLatency(o options, conns []*clientv3.Client) result {
	prefix := fmt.Sprintf("w%d/", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rec recorder
	var events int64
	// When the last event arrived, in ns since start: events/s is over the time delivery took.
	var lastEventNs int64
	var ready sync.WaitGroup
	var start time.Time
	for s := 0; s < o.streams; s++ {
		c := conns[s%len(conns)]
		// clientv3 shares one gRPC stream among the watchers whose contexts carry the same
		// outgoing metadata: a distinct value per stream gives each group its own.
		streamCtx := metadata.AppendToOutgoingContext(ctx, "etcd-load-stream", strconv.Itoa(s))
		for w := s; w < o.watchers; w += o.streams {
			ready.Add(1)
			ch := c.Watch(streamCtx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			go func() {
				first := true
				for resp := range ch {
					if first && resp.Created {
						first = false
						ready.Done()
						continue
					}
					now := time.Now()
					for _, ev := range resp.Events {
						sent, err := strconv.ParseInt(string(ev.Kv.Value[:19]), 10, 64)
						if err == nil {
							atomic.AddInt64(&events, 1)
							atomic.StoreInt64(&lastEventNs, int64(now.Sub(start)))
							rec.mu.Lock()
							rec.latencies = append(rec.latencies, now.Sub(time.Unix(0, sent)))
							rec.mu.Unlock()
						}
					}
				}
			}()
		}
	}
	ready.Wait()
	padding := ""
	if o.valueSize > 19 {
		padding = strings.Repeat("v", o.valueSize-19)
	}
	var puts int64
	interval := time.Second / time.Duration(o.putRate)
	start = time.Now()
	next := start
	for time.Since(start) < o.duration {
		next = next.Add(interval)
		go func(i int64) {
			value := strconv.FormatInt(time.Now().UnixNano(), 10) + padding
			if _, err := conns[0].Put(context.Background(), prefix+strconv.FormatInt(i%100, 10), value); err != nil {
				atomic.AddInt64(&rec.errors, 1)
				rec.first.CompareAndSwap(nil, err.Error())
			}
		}(puts)
		puts++
		time.Sleep(time.Until(next))
	}
	// Let delivery finish: every event of every put, or 30 s.
	want := puts * int64(o.watchers)
	deadline := time.Now().Add(30 * time.Second)
	for atomic.LoadInt64(&events) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := rec.result(elapsed)
	r.Events, r.Puts = atomic.LoadInt64(&events), puts
	r.Ops = r.Events
	// A server that keeps up delivers in about the put duration; one that falls behind takes longer.
	delivery := time.Duration(atomic.LoadInt64(&lastEventNs))
	if delivery < o.duration {
		delivery = o.duration
	}
	r.OpsPerSec = float64(r.Events) / delivery.Seconds()
	return r
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "etcd-load: "+format+"\n", args...)
	os.Exit(1)
}

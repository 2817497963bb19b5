// healthprobe asks a server's grpc.health.v1.Health service with grpc-go's
// own generated client, as gRPC load balancers do: "check" prints the status
// (or the call's error), "watch" prints each status the stream sends until it
// has -n of them or -timeout passes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2379", "server address")
	service := flag.String("service", "", "service name to ask about")
	mode := flag.String("mode", "check", "check or watch")
	n := flag.Int("n", 1, "statuses to wait for (watch)")
	timeout := flag.Duration("timeout", 5*time.Second, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Println("dial error:", err)
		os.Exit(2)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	req := &healthpb.HealthCheckRequest{Service: *service}
	if *mode == "check" {
		resp, err := client.Check(ctx, req)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(resp.GetStatus())
		return
	}
	stream, err := client.Watch(ctx, req)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for i := 0; i < *n; i++ {
		resp, err := stream.Recv()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(resp.GetStatus())
	}
}

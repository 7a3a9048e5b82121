// What this machine charges for the kernel work every server pays per request, to read a
// benchmark's ratios by: on some VMs here a null system call took about 1 µs, and the ratios
// between servers shrink towards 1 as it grows (docs/performance.md).
//
//   hornbeam-syscall-cost [CPU]
//
// Pinned to CPU (default 0), prints one line of ns per operation:
//   null        getppid(2), the cheapest system call;
//   recv_eagain recv(2) on an empty non-blocking TCP socket (a read tried too early);
//   epoll_mod   epoll_ctl(EPOLL_CTL_MOD) of a registered socket;
//   switch      one thread waking another on the same CPU and going to sleep (eventfd
//               ping-pong): a hand-over between threads, both switches counted as one.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

template <class Operation>
double nanoseconds_each(int count, Operation operation) {
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) operation();
  const std::chrono::duration<double, std::nano> spent = std::chrono::steady_clock::now() - started;
  return spent.count() / count;
}

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    std::fprintf(stderr, "cannot pin to CPU %d\n", cpu);
    std::exit(1);
  }
}

// A connected loopback TCP pair: the accepted end, non-blocking (the other end is leaked on
// purpose: it must stay open for the accepted end to stay empty rather than at its end).
int empty_tcp_socket() {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  const int accepted = accept(listener, nullptr, nullptr);
  close(listener);
  fcntl(accepted, F_SETFL, O_NONBLOCK);
  return accepted;
}

double switch_cost(int cpu, int rounds) {
  const int ping = eventfd(0, 0);
  const int pong = eventfd(0, 0);
  std::thread partner([&] {
    pin(cpu);
    std::uint64_t value = 0;
    for (int i = 0; i < rounds; ++i) {
      if (read(ping, &value, sizeof value) != sizeof value) return;
      value = 1;
      if (write(pong, &value, sizeof value) != sizeof value) return;
    }
  });
  std::uint64_t value = 1;
  // Each round is two hand-overs (there and back), each a write, a read and a switch.
  const double round = nanoseconds_each(rounds, [&] {
    value = 1;
    if (write(ping, &value, sizeof value) != sizeof value ||
        read(pong, &value, sizeof value) != sizeof value) {
      std::exit(1);
    }
  });
  partner.join();
  close(ping);
  close(pong);
  return round / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int cpu = argc > 1 ? std::atoi(argv[1]) : 0;
  pin(cpu);
  constexpr int count = 200'000;
  const double null = nanoseconds_each(count, [] { (void)getppid(); });

  const int socket_fd = empty_tcp_socket();
  char byte = 0;
  const double recv_eagain = nanoseconds_each(count, [&] { (void)recv(socket_fd, &byte, 1, 0); });

  const int epoll = epoll_create1(0);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  epoll_ctl(epoll, EPOLL_CTL_ADD, socket_fd, &event);
  const double epoll_mod =
      nanoseconds_each(count, [&] { epoll_ctl(epoll, EPOLL_CTL_MOD, socket_fd, &event); });

  const double hand_over = switch_cost(cpu, 20'000);
  std::printf("null %.0f ns, recv_eagain %.0f ns, epoll_mod %.0f ns, switch %.0f ns\n", null,
              recv_eagain, epoll_mod, hand_over);
}

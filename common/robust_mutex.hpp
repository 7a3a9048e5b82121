#pragma once

// A mutex in memory that several processes map, robust: a process that dies holding it leaves
// it to the next locker, which gets EOWNERDEAD and repairs what it guards.

#include <pthread.h>

namespace hornbeam::shm {

inline void init_robust_shared_mutex(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(mutex, &attributes);
  pthread_mutexattr_destroy(&attributes);
}

}  // namespace hornbeam::shm

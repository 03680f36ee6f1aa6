# Host builds of the runtime's generic code against the fake ISA binding in this directory.
#   cxv_fake_arch: the fake binding + kernel pieces every generic layer needs (timers, scheduler,
#   frames, IRQ dispatch), compiled with this directory where the image has src/arch/<isa>.
include_guard(GLOBAL)
add_library(cxv_fake_arch STATIC
  ${CMAKE_CURRENT_LIST_DIR}/fake_arch.cpp
  ${CXV_SRC}/kernel/timer.cpp ${CXV_SRC}/kernel/sched.cpp ${CXV_SRC}/kernel/frames.cpp ${CXV_SRC}/kernel/irq.cpp)
target_include_directories(cxv_fake_arch PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(cxv_fake_arch PUBLIC CXV_HOST_TEST)
target_link_libraries(cxv_fake_arch PUBLIC cxv_host_support)

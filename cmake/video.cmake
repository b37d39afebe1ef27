# video.cmake — FFmpeg's libraries for src/video (decoding any libavformat input, H.264
# output). Optional: without them the library builds and fn_video_* / `facenet video` say
# what to install. libavdevice (V4L2 cameras) is optional on top.
pkg_check_modules(FFMPEG IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
if(FFMPEG_FOUND)
  message(STATUS "video: FFmpeg ${FFMPEG_libavformat_VERSION} found (facenet video, fn_video_*)")
  target_compile_definitions(facenet_obj PRIVATE FN_HAVE_FFMPEG)
  target_link_libraries(facenet_obj PUBLIC PkgConfig::FFMPEG)
  target_link_libraries(facenet_shared PRIVATE PkgConfig::FFMPEG)
  pkg_check_modules(AVDEVICE IMPORTED_TARGET libavdevice)
  if(AVDEVICE_FOUND)
    target_compile_definitions(facenet_obj PRIVATE FN_HAVE_AVDEVICE)
    target_link_libraries(facenet_obj PUBLIC PkgConfig::AVDEVICE)
    target_link_libraries(facenet_shared PRIVATE PkgConfig::AVDEVICE)
  else()
    message(STATUS "video: libavdevice not found: no V4L2 cameras (apt-get install libavdevice-dev)")
  endif()
else()
  message(STATUS "video: FFmpeg libraries not found: facenet video disabled "
                 "(apt-get install libavformat-dev libavcodec-dev libswscale-dev libavutil-dev)")
endif()

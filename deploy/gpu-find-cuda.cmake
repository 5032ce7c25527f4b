# Included after project() by the GPU image build (deploy/image-build.sh
# --gpu, CMAKE_PROJECT_INCLUDE): FAISS built with GPU support exports a
# target that links CUDA::cudart and CUDA::cublas, which only exist once the
# CUDA toolkit has been found.
find_package(CUDAToolkit REQUIRED)

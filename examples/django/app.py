"""A one-file Django project served by hornbeam: a form, JSON, a streamed response and a
file download. `app:application` is the WSGI entry point, as in a project's wsgi.py, and
`app:asgi_application` the ASGI one, as in its asgi.py."""

import os
import time

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))

settings.configure(
    DEBUG=False,
    SECRET_KEY="hornbeam-example-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path, reverse  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def index(request):
    return HttpResponse("Hello from Django on hornbeam!\n", content_type="text/plain")


@csrf_exempt
def form(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    return HttpResponse(f"Hello, {request.POST.get('name', '')}! ({len(request.POST)} fields)\n",
                        content_type="text/plain")


def item(request, item_id):
    return JsonResponse({"id": item_id, "name": f"item {item_id}", "tags": request.GET.getlist("tag")})


def links(request):
    """URLs made by the app: under a mount they carry its prefix (SCRIPT_NAME)."""
    item_path = reverse("item", args=[7])
    return JsonResponse({"item": item_path, "absolute": request.build_absolute_uri(item_path)})


def stream(request):
    count = int(request.GET.get("count", "3"))
    delay = float(request.GET.get("delay", "0"))

    def events():
        for number in range(count):
            yield f"data: event {number}\n\n"
            time.sleep(delay)

    return StreamingHttpResponse(events(), content_type="text/event-stream")


def file(request):
    # FileResponse hands the open file to the server through wsgi.file_wrapper.
    return FileResponse(open(os.path.join(HERE, "static", "logo.txt"), "rb"), content_type="text/plain")


urlpatterns = [
    path("", index),
    path("form", form),
    path("api/items/<int:item_id>", item, name="item"),
    path("links", links),
    path("stream", stream),
    path("file", file),
]

application = get_wsgi_application()
asgi_application = get_asgi_application()

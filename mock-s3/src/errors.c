#include "errors.h"

#include <stddef.h>
#include <string.h>

/* Statuses and messages as S3 sends them (docs "Error responses" table). */
static const ms3_s3error table[] = {
    {"AccessDenied", 403, "Access Denied"},
    {"AuthorizationHeaderMalformed", 400, "The authorization header is malformed."},
    {"AuthorizationQueryParametersError", 400,
     "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
     "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."},
    {"BadDigest", 400, "The Content-MD5 you specified did not match what we received."},
    {"BucketAlreadyExists", 409, "The requested bucket name is not available."},
    {"BucketAlreadyOwnedByYou", 409,
     "Your previous request to create the named bucket succeeded and you already own it."},
    {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
    {"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"},
    {"EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size"},
    {"ExpiredToken", 400, "The provided token has expired."},
    {"IncompleteBody", 400, "The request body terminated unexpectedly"},
    {"InternalError", 500, "We encountered an internal error. Please try again."},
    {"InvalidAccessKeyId", 403,
     "The AWS Access Key Id you provided does not exist in our records."},
    {"InvalidArgument", 400, "Invalid Argument"},
    {"InvalidBucketName", 400, "The specified bucket is not valid."},
    {"InvalidChunkSizeError", 400,
     "Only the last chunk is allowed to have a size less than 8192 bytes"},
    {"InvalidDigest", 400, "The Content-MD5 you specified was invalid."},
    {"InvalidPart", 400,
     "One or more of the specified parts could not be found.  The part may not have been "
     "uploaded, or the specified entity tag may not match the part's entity tag."},
    {"InvalidPartOrder", 400,
     "The list of parts was not in ascending order. Parts must be ordered by part number."},
    {"InvalidRange", 416, "The requested range is not satisfiable"},
    {"InvalidRequest", 400, "Invalid Request"},
    {"InvalidToken", 400, "The provided token is malformed or otherwise invalid."},
    {"InvalidURI", 400, "Couldn't parse the specified URI."},
    {"KeyTooLongError", 400, "Your key is too long"},
    {"MalformedTrailerError", 400,
     "The request contained trailing data that was not well-formed or did not conform to "
     "our published schema."},
    {"MalformedXML", 400,
     "The XML you provided was not well-formed or did not validate against our published "
     "schema"},
    {"MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
    {"MissingContentLength", 411, "You must provide the Content-Length HTTP header."},
    {"MissingSecurityHeader", 400, "Your request is missing a required header."},
    {"NoSuchBucket", 404, "The specified bucket does not exist"},
    {"NoSuchKey", 404, "The specified key does not exist."},
    {"NoSuchUpload", 404,
     "The specified upload does not exist. The upload ID may be invalid, or the upload may "
     "have been aborted or completed."},
    {"NotImplemented", 501, "A header you provided implies functionality that is not implemented"},
    {"NotModified", 304, "Not Modified"},
    {"PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"},
    {"RequestTimeTooSkewed", 403,
     "The difference between the request time and the current time is too large."},
    {"ServiceUnavailable", 503, "Please reduce your request rate."},
    {"SignatureDoesNotMatch", 403,
     "The request signature we calculated does not match the signature you provided. Check "
     "your key and signing method."},
    {"SlowDown", 503, "Please reduce your request rate."},
    {"XAmzContentChecksumMismatch", 400,
     "The provided 'x-amz-checksum' header does not match what was computed."},
    {"XAmzContentSHA256Mismatch", 400,
     "The provided 'x-amz-content-sha256' header does not match what was computed."},
};

ms3_s3error ms3__error_lookup(const char *code)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (code != NULL && strcmp(table[i].code, code) == 0)
            return table[i];
    ms3_s3error unknown = {code != NULL ? code : "InvalidRequest", 400, "Bad Request"};
    return unknown;
}

int ms3__error_status(const char *code)
{
    return ms3__error_lookup(code).status;
}

const char *ms3__error_message(const char *code)
{
    return ms3__error_lookup(code).message;
}

const char *ms3__error_code_for_status(int status)
{
    switch (status) {
    case 304:
        return "NotModified";
    case 403:
        return "AccessDenied";
    case 404:
        return "NoSuchKey";
    case 405:
        return "MethodNotAllowed";
    case 411:
        return "MissingContentLength";
    case 412:
        return "PreconditionFailed";
    case 416:
        return "InvalidRange";
    case 500:
        return "InternalError";
    case 501:
        return "NotImplemented";
    case 503:
        return "SlowDown";
    default:
        return "InvalidRequest";
    }
}

const char *ms3__status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 416:
        return "Requested Range Not Satisfiable";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

bk_code ms3__err_pass(bk_err *err, const bk_err *from)
{
    return bk_err_set(err, from->code, "%s", from->msg);
}
